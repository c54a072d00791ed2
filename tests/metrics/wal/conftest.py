"""A series store with its log in a test's folder, filled batch by batch as ``vigil up`` fills it."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from tests.server.conftest import receiver, target, vigil_up  # noqa: F401 - fixtures of the tests here
from vigil.engine.clock import SystemClock
from vigil.metrics.series import Matcher, MatchOp
from vigil.metrics.store import NAME, SeriesStore
from vigil.metrics.wal.log import LogOptions, SeriesLog
from vigil.metrics.wal.replay import Replay
from vigil.metrics.wal.segments import segment_paths

# Prometheus' stale marker: a NaN with its own bits, which must come back as they went in.
STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
SERIES = [
    {"__name__": "vigil_check_up", "service": "api", "check": "health", "kind": "http"},
    {"__name__": "http_requests_total", "job": "api", "instance": "a:80", "path": "/"},
    {"__name__": "http_requests_total", "job": "api", "instance": "a:80", "path": "/login\nx"},
]


def logged(folder: Path, options: LogOptions | None = None) -> tuple[SeriesStore, SeriesLog]:
    store = SeriesStore(retention=math.inf)
    log = SeriesLog(folder, SystemClock(), options=options)
    log.open(store)
    return store, log


async def fill(store: SeriesStore, log: SeriesLog, batches: range, *, per_batch: int = 3) -> None:
    """``per_batch`` samples of each series a batch, 1 s apart, each batch written."""
    for batch in batches:
        for step in range(per_batch):
            t = 1000.0 + batch * per_batch + step
            for i, labels in enumerate(SERIES):
                store.append(labels, t, STALE if (batch, step, i) == (1, 0, 0) else t * (i + 1))
        assert await log.flush()


def reference(batches: range) -> dict[str, list[tuple[float, bytes]]]:
    """What a store holds after ``fill`` of ``batches``, with no log."""
    store = SeriesStore(retention=math.inf)
    for batch in batches:
        for step in range(3):
            t = 1000.0 + batch * 3 + step
            for i, labels in enumerate(SERIES):
                store.append(labels, t, STALE if (batch, step, i) == (1, 0, 0) else t * (i + 1))
    return contents(store)


def reopened(folder: Path) -> tuple[SeriesStore, Replay]:
    store = SeriesStore(retention=math.inf)
    return store, SeriesLog(folder, SystemClock()).open(store)


def contents(store: SeriesStore) -> dict[str, list[tuple[float, bytes]]]:
    """Each series' samples, values as their bits (so NaNs compare)."""
    out: dict[str, list[tuple[float, bytes]]] = {}
    for series in store.select([Matcher(NAME, MatchOp.REGEX, ".+")], -math.inf, math.inf):
        key = repr(sorted(series.labels.items()))
        out[key] = [(t, struct.pack("<d", v)) for t, v in zip(series.timestamps, series.values, strict=True)]
    return out


def segments(folder: Path) -> list[Path]:
    return [path for _, path in segment_paths(folder)]
