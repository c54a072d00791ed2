"""Runs in progress and recently finished, for the faces that watch them: the API's status and
stream, and the incident page's live output.

A run is started here as its own task; the runner prints into its ``LiveRun`` line by line
(``OutputSink``), which keeps each step's last ``OUTPUT_KEPT`` bytes and hands every line to
each watcher's queue. A watcher that falls ``WATCHER_LIMIT`` lines behind loses lines rather
than hold up the run, and is told how many (a ``lost`` event). A run that raises is logged
once and kept as crashed, with its reason, so no run disappears silently.

The registry keeps every run in progress and the last ``KEEP`` finished ones; it lives in
memory: after a restart the runs' records are the runner's store and the incident timeline.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from vigil.engine.clock import Clock
from vigil.engine.supervisor import describe
from vigil.errors import ConflictError, NotFoundError, VigilError
from vigil.runbooks.outcome import OUTPUT_KEPT, OutputSink, RunExit, RunOutcome, RunRequest, StepOutcome

log = logging.getLogger("vigil.runbooks")

KEEP = 200  # finished runs kept for their status and stream
RUNNING_LIMIT = 32  # runs in progress at once; more is a runaway script, refused (409)
WATCHER_LIMIT = 2_000  # lines a watcher may fall behind before it loses some
LINE_LIMIT = 8_192  # characters of one line; a longer one is cut


class LiveStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # the runner gave an outcome, whatever its exit code
    CRASHED = "crashed"  # the runner raised: logged once, shown with its reason


class EventKind(StrEnum):
    LINE = "line"
    STEP = "step"
    LOST = "lost"
    DONE = "done"


@dataclass(frozen=True)
class LiveEvent:
    kind: EventKind
    data: dict[str, Any]
    seq: int = 0  # its place in the run, counted from 1: a stream picks up after the last it sent


class Runner(Protocol):
    async def run(
        self,
        request: RunRequest,
        on_output: OutputSink | None,
        on_step: Callable[[StepOutcome], None] | None,
    ) -> RunOutcome: ...


class Watcher:
    """One stream's queue, bounded by ``limit`` lines: past it lines are dropped and counted,
    and a ``lost`` event goes ahead of the next one that fits. Step and done events always fit."""

    def __init__(self, limit: int = WATCHER_LIMIT) -> None:
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
        self.limit = limit
        self.lost = 0

    def offer(self, event: LiveEvent) -> None:
        if event.kind is EventKind.LINE and self.queue.qsize() >= self.limit:
            self.lost += 1
            return
        if self.lost:
            self.queue.put_nowait(LiveEvent(EventKind.LOST, {"lost": self.lost}, event.seq))
            self.lost = 0
        self.queue.put_nowait(event)


@dataclass
class StepOutput:
    """A step's last ``OUTPUT_KEPT`` bytes of lines; ``cut`` counts the lines let go before them."""

    lines: deque[LiveEvent] = field(default_factory=deque)
    size: int = 0
    cut: int = 0

    def add(self, event: LiveEvent) -> None:
        self.lines.append(event)
        self.size += len(event.data["line"].encode()) + 1
        while self.size > OUTPUT_KEPT and len(self.lines) > 1:
            self.size -= len(self.lines.popleft().data["line"].encode()) + 1
            self.cut += 1


class LiveRun:
    def __init__(self, run_id: str, request: RunRequest, title: str, started_at: datetime) -> None:
        self.id = run_id
        self.request = request
        self.title = title
        self.started_at = started_at
        self.finished_at: datetime | None = None
        self.status = LiveStatus.RUNNING
        self.outcome: RunOutcome | None = None
        self.error: str | None = None
        self.output: dict[int, StepOutput] = {}
        self.steps: dict[int, LiveEvent] = {}  # each step's ``step`` event, once it is known
        self.watchers: set[Watcher] = set()
        self.ended = asyncio.Event()
        self.seq = 0

    def printed(self, step: int, line: str) -> None:
        """The runner's ``OutputSink``: keep the line and hand it to every watcher, never waiting."""
        if len(line) > LINE_LIMIT:
            line = line[: LINE_LIMIT - 1] + "…"
        event = self._event(EventKind.LINE, {"step": step, "line": line})
        self.output.setdefault(step, StepOutput()).add(event)
        self._tell(event)

    def step_finished(self, outcome: StepOutcome) -> None:
        if outcome.number not in self.steps:
            self.steps[outcome.number] = event = self._event(EventKind.STEP, outcome.as_dict())
            self._tell(event)

    def finish(self, outcome: RunOutcome | None, error: str | None, at: datetime) -> None:
        for step in outcome.steps if outcome else ():
            self.step_finished(step)
        self.outcome = outcome
        self.error = error
        self.status = LiveStatus.FINISHED if outcome is not None else LiveStatus.CRASHED
        self.finished_at = at
        self._tell(self._event(EventKind.DONE, self.summary()))
        self.watchers.clear()
        self.ended.set()

    def watch(self, after: int = 0, limit: int = WATCHER_LIMIT) -> tuple[list[LiveEvent], Watcher | None]:
        """The events after ``after`` so far, and a watcher for those to come (None once the run
        has ended). No await between the two, so no line falls between them."""
        past: list[LiveEvent] = []
        for step, kept in self.output.items():
            if kept.cut and after == 0:
                past.append(LiveEvent(EventKind.LOST, {"step": step, "lost": kept.cut}))
            past += [e for e in kept.lines if e.seq > after]
        past += [e for e in self.steps.values() if e.seq > after]
        past.sort(key=lambda e: e.seq)
        if self.ended.is_set():
            return [*past, LiveEvent(EventKind.DONE, self.summary(), self.seq)], None
        watcher = Watcher(limit)
        self.watchers.add(watcher)
        return past, watcher

    def unwatch(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    @property
    def exit_code(self) -> int | None:
        if self.outcome is not None:
            return int(self.outcome.exit)
        return int(RunExit.FAILED) if self.status is LiveStatus.CRASHED else None

    def summary(self) -> dict[str, Any]:
        request = self.request
        took = (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
        return {
            "id": self.id,
            "procedure": request.procedure,
            "title": self.title,
            "step": request.step,
            "actor": request.actor,
            "incident": request.incident_id,
            "dry_run": request.dry_run,
            "status": str(self.status),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration": round(took, 3) if took is not None else None,
            "exit_code": self.exit_code,
            "error": self.error,
            "outcome": self.outcome.as_dict() if self.outcome else None,
        }

    def _event(self, kind: EventKind, data: dict[str, Any]) -> LiveEvent:
        self.seq += 1
        return LiveEvent(kind, data, self.seq)

    def _tell(self, event: LiveEvent) -> None:
        for watcher in list(self.watchers):
            watcher.offer(event)


Crashed = Callable[[LiveRun], Awaitable[None]]


class LiveRuns:
    """The runs started through the API and the dashboard, by id."""

    def __init__(
        self,
        runner: Runner,
        clock: Clock,
        *,
        keep: int = KEEP,
        running_limit: int = RUNNING_LIMIT,
        on_crash: Crashed | None = None,
    ) -> None:
        self.runner = runner
        self.clock = clock
        self.keep = keep
        self.running_limit = running_limit
        self.on_crash = on_crash
        self.runs: OrderedDict[str, LiveRun] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, request: RunRequest, title: str) -> LiveRun:
        """Start ``request`` (already checked: see ``launch``) as its own task."""
        running = sum(1 for r in self.runs.values() if r.status is LiveStatus.RUNNING)
        if running >= self.running_limit:
            raise ConflictError(f"{running} runbook runs are in progress already; wait for one to end")
        live = LiveRun(secrets.token_hex(8), request, title, self.clock.now())
        self.runs[live.id] = live
        task = asyncio.create_task(self._run(live), name=f"vigil-runbook-{live.id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self._forget_oldest()
        return live

    def get(self, run_id: str) -> LiveRun:
        live = self.runs.get(run_id)
        if live is None:
            raise NotFoundError(
                f"no runbook run {run_id!r}; runs are kept here until {self.keep} newer ones have ended "
                "or the server restarts"
            )
        return live

    async def stop(self) -> None:
        """Cancel the runs in progress (the runner kills their processes) and wait for them."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, live: LiveRun) -> None:
        try:
            outcome = await self.runner.run(live.request, live.printed, live.step_finished)
        except asyncio.CancelledError:
            live.finish(None, "stopped: the server shut down during the run", self.clock.now())
            raise
        except Exception as err:
            # Logged once here, with a traceback when it is Vigil's bug (the supervisor's rule).
            reason = describe(err)
            bug = not isinstance(err, (VigilError, OSError, TimeoutError))
            log.error(
                "runbook run %s of %s failed: %s",
                live.id,
                live.request.procedure,
                reason,
                exc_info=err if bug else None,
            )
            live.finish(None, reason, self.clock.now())
            if self.on_crash is not None:
                try:
                    await self.on_crash(live)
                except Exception as told:
                    log.error("runbook run %s: could not record its failure: %s", live.id, describe(told))
            return
        live.finish(outcome, None, self.clock.now())

    def _forget_oldest(self) -> None:
        finished = [k for k, r in self.runs.items() if r.status is not LiveStatus.RUNNING]
        for key in finished[: max(0, len(self.runs) - self.keep)]:
            del self.runs[key]
