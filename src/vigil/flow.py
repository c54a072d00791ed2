"""The flow, assembled in one place: what happens to every check result, in order.

    result ─► status board ─► own metrics ─► series store ─► failure count → incident → outbox ─► result store

Each stage is a small callable taking the frozen ``Result``. The failure stage comes before
the store so that a page never waits behind a write of history. A stage that fails is logged
and the rest still run: one bad write must not stop the pages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from vigil.alerting.check_failures import CheckFailures
from vigil.engine.board import StatusBoard
from vigil.metrics.samples import result_samples
from vigil.metrics.store import SeriesStore
from vigil.probes.base import Result
from vigil.server.metrics import VigilMetrics
from vigil.store.results import ResultWriter

log = logging.getLogger("vigil.flow")
Stage = Callable[[Result], Awaitable[None]]


@dataclass(frozen=True)
class ResultFlow:
    stages: Sequence[tuple[str, Stage]]
    # Stages failing now: during an outage of the store every result fails the same way, so
    # the failure is logged once with its traceback, then counted, and its end logged once.
    failing: dict[str, int] = field(default_factory=dict)

    async def __call__(self, result: Result) -> None:
        for name, stage in self.stages:
            try:
                await stage(result)
            except Exception:
                if name not in self.failing:
                    log.exception("stage %s failed for %s", name, result.check_id)
                self.failing[name] = self.failing.get(name, 0) + 1
            else:
                if (missed := self.failing.pop(name, 0)) > 0:
                    log.warning("stage %s works again after %d failed results", name, missed)


def build_result_flow(
    board: StatusBoard,
    metrics: VigilMetrics,
    failures: CheckFailures,
    writer: ResultWriter,
    kinds: dict[str, str],
    series: SeriesStore,
) -> ResultFlow:
    async def record(result: Result) -> None:
        board.record(result)

    async def count(result: Result) -> None:
        metrics.observe(result, kinds.get(result.check_id, "unknown"))

    async def sample(result: Result) -> None:
        series.append_many(result_samples(result, kinds.get(result.check_id, "unknown")))

    return ResultFlow(
        (
            ("board", record),
            ("metrics", count),
            ("series", sample),
            ("incidents", failures.handle),
            ("store", writer.accept),
        )
    )
