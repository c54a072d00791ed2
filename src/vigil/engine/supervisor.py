"""One place that runs every long-running task of ``vigil up`` and knows how each one is doing.

A task that raises (or returns, which a long-running task never should) is logged once with
its reason, marked failing and started again after a backoff that doubles up to a ceiling.
It counts as well again once it has run ``settle`` seconds without raising, or, for a stage
that knows better (the result writer after a batch is stored), when it says so itself.
``/readyz`` and ``/metrics`` read the stages' health from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError

from vigil.engine.clock import Clock
from vigil.errors import VigilError

log = logging.getLogger("vigil.supervisor")

# Failures from outside Vigil (the store, the network) are told by their reason alone; anything
# else is a bug in Vigil, and its traceback is what someone fixing it needs.
_OUTSIDE = (SQLAlchemyError, OSError, VigilError, TimeoutError)


class StageStatus(StrEnum):
    OK = "ok"
    FAILING = "failing"


class Stage:
    """The health of one long-running task: ok, or failing since a moment with a last error."""

    def __init__(self, name: str, clock: Clock, redact: Callable[[str], str]) -> None:
        self.name = name
        self.clock = clock
        self.redact = redact
        self.status = StageStatus.OK
        self.failing_since: datetime | None = None
        self.last_error: str | None = None
        self.failures = 0  # in the current streak: sets the backoff
        self.restarts = 0

    def failed(self, reason: str, error: BaseException | None = None) -> None:
        """Note a failure; only the first of a streak is logged, the rest only update ``last_error``."""
        self.last_error = self.redact(reason)
        self.failures += 1
        if self.status is StageStatus.FAILING:
            log.debug("%s still failing: %s", self.name, self.last_error)
            return
        self.status = StageStatus.FAILING
        self.failing_since = self.clock.now()
        bug = error is not None and not isinstance(error, _OUTSIDE)
        log.error("%s failing: %s", self.name, self.last_error, exc_info=error if bug else None)

    def recovered(self) -> None:
        if self.status is StageStatus.FAILING and self.failing_since is not None:
            took = (self.clock.now() - self.failing_since).total_seconds()
            log.warning("%s recovered after %.0fs (last error: %s)", self.name, took, self.last_error)
        self.status = StageStatus.OK
        self.failing_since = None
        self.failures = 0

    def failing_for(self) -> float:
        """Seconds this stage has been failing; 0 when it is ok."""
        if self.failing_since is None:
            return 0.0
        return (self.clock.now() - self.failing_since).total_seconds()


def describe(error: BaseException) -> str:
    """One line: the error's kind and, for a database error, the driver's own first line."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {detail[0]}" if detail else type(error).__name__


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        settle: float = 10.0,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.clock = clock
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.settle = settle
        self.redact = redact
        self.stages: dict[str, Stage] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def stage(self, name: str) -> Stage:
        if name not in self.stages:
            self.stages[name] = Stage(name, self.clock, self.redact)
        return self.stages[name]

    def spawn(
        self, name: str, work: Callable[[], Awaitable[None]], *, reports_recovery: bool = False
    ) -> asyncio.Task[None]:
        """Run ``work()`` as task ``vigil-{name}`` until cancelled, starting it again whenever it
        ends. ``reports_recovery``: the stage calls ``stage(name).recovered()`` itself."""
        task = asyncio.create_task(
            self._supervise(self.stage(name), work, reports_recovery), name=f"vigil-{name}"
        )
        self.tasks.append(task)
        return task

    def failing(self) -> list[Stage]:
        return [s for s in self.stages.values() if s.status is StageStatus.FAILING]

    async def stop(self) -> None:
        """Cancel every task, the last started first, and wait for each to end."""
        for task in reversed(self.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    async def _supervise(self, stage: Stage, work: Callable[[], Awaitable[None]], reports: bool) -> None:
        while True:
            settling = None
            if stage.status is StageStatus.FAILING and not reports:
                settling = asyncio.create_task(self._settle(stage), name=f"vigil-{stage.name}-settle")
            try:
                await work()
                stage.failed("stopped on its own")
            except asyncio.CancelledError:
                raise
            except Exception as err:
                stage.failed(describe(err), err)
            finally:
                if settling is not None:
                    settling.cancel()
            stage.restarts += 1
            doublings = min(stage.failures - 1, 20)
            await self.clock.sleep(min(self.backoff * 2**doublings, self.max_backoff))

    async def _settle(self, stage: Stage) -> None:
        await self.clock.sleep(self.settle)
        stage.recovered()
