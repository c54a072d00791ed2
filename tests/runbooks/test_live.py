"""Runs watched live, over the real runner and real shell steps: watchers that keep up and one
that does not, output bounded per step, a run that raises, and what the registry keeps."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.runbooks.procedures import runner
from vigil.engine.clock import SystemClock
from vigil.errors import ConflictError, NotFoundError
from vigil.runbooks.live import EventKind, LiveEvent, LiveRun, LiveRuns, LiveStatus
from vigil.runbooks.outcome import OUTPUT_KEPT, RunRequest

RUNBOOK = """\
    # Ops

    ## Count
    ```bash
    seq 1 "$UPTO"
    ```

    ## Wait
    ```bash
    echo waiting
    sleep 30
    ```

    ## Two steps
    ```bash
    echo one
    ```

    ```bash
    echo two
    ```
"""


def live_runs(tmp_path: Path, upto: int = 3, **options: object) -> LiveRuns:
    return LiveRuns(runner(tmp_path, RUNBOOK, {"env": {"UPTO": str(upto)}}), SystemClock(), **options)  # type: ignore[arg-type]


async def drain(live: LiveRun, after: int = 0) -> list[LiveEvent]:
    past, watcher = live.watch(after)
    events = list(past)
    while watcher is not None and (not events or events[-1].kind is not EventKind.DONE):
        events.append(await asyncio.wait_for(watcher.queue.get(), 10))
    return events


async def test_each_step_is_told_as_it_finishes_not_at_the_end(tmp_path: Path) -> None:
    runs = live_runs(tmp_path)
    live = runs.start(RunRequest("ops.md#two-steps", "ana"), "Two steps")

    events = await drain(live)

    shown = [(e.kind, e.data.get("line") or e.data.get("number")) for e in events[:4]]
    assert shown == [("line", "one"), ("step", 1), ("line", "two"), ("step", 2)]
    assert events[-1].kind is EventKind.DONE


async def test_a_watcher_gets_every_line_then_the_step_then_done(tmp_path: Path) -> None:
    runs = live_runs(tmp_path)
    live = runs.start(RunRequest("ops.md#count", "ana"), "Count")

    events = await drain(live)

    assert [e.kind for e in events] == ["line"] * 3 + ["step", "done"]
    assert [e.data["line"] for e in events[:3]] == ["1", "2", "3"]
    assert events[3].data["status"] == "succeeded"
    assert events[4].data["exit_code"] == 0 and events[4].data["status"] == "finished"
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    # A stream that reconnects after event 2 (Last-Event-ID) picks up at 3.
    assert [e.seq for e in await drain(live, after=2)] == [3, 4, 5]


async def test_a_slow_watcher_loses_lines_and_is_told_while_the_run_goes_on(tmp_path: Path) -> None:
    runs = live_runs(tmp_path, upto=3000)
    live = runs.start(RunRequest("ops.md#count", "ana"), "Count")
    _, slow = live.watch(limit=10)
    assert slow is not None

    await asyncio.wait_for(live.ended.wait(), 10)  # never held up by the watcher that does not read

    got: list[LiveEvent] = []
    while not slow.queue.empty():
        got.append(slow.queue.get_nowait())
    assert [e.kind for e in got] == ["line"] * 10 + ["lost", "step", "done"]
    assert got[10].data == {"lost": 2990}
    assert sum(len(s.lines) for s in live.output.values()) == 3000  # the run itself kept them all


async def test_each_step_keeps_its_last_64_kb_and_says_how_many_lines_went(tmp_path: Path) -> None:
    runs = live_runs(tmp_path, upto=30_000)
    live = runs.start(RunRequest("ops.md#count", "ana"), "Count")
    await asyncio.wait_for(live.ended.wait(), 20)

    kept = live.output[1]
    assert kept.size <= OUTPUT_KEPT and kept.cut > 0
    events, _ = live.watch()
    assert events[0].kind is EventKind.LOST and events[0].data == {"step": 1, "lost": kept.cut}
    lines = [e.data["line"] for e in events if e.kind is EventKind.LINE]
    assert lines[-1] == "30000" and len(lines) == 30_000 - kept.cut


async def test_a_run_that_raises_is_logged_once_recorded_and_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crashed: list[LiveRun] = []

    async def on_crash(live: LiveRun) -> None:
        crashed.append(live)

    runs = live_runs(tmp_path, on_crash=on_crash)
    # A runner without a store cannot record on an incident, and says so by raising.
    live = runs.start(RunRequest("ops.md#count", "ana", incident_id=7), "Count")

    with caplog.at_level(logging.ERROR, logger="vigil.runbooks"):
        events = await drain(live)

    assert live.status is LiveStatus.CRASHED and crashed == [live]
    assert live.error is not None and "needs Vigil's store" in live.error
    assert events[-1].kind is EventKind.DONE and events[-1].data["status"] == "crashed"
    assert events[-1].data["exit_code"] == 1 and events[-1].data["error"] == live.error
    failures = [r for r in caplog.records if live.id in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None  # Vigil's own error: no traceback


async def test_the_registry_keeps_the_last_finished_runs(tmp_path: Path) -> None:
    runs = live_runs(tmp_path, keep=3)
    started = [runs.start(RunRequest("ops.md#count", "ana"), "Count") for _ in range(5)]
    for live in started:
        await asyncio.wait_for(live.ended.wait(), 10)
    last = runs.start(RunRequest("ops.md#count", "ana"), "Count")  # each start forgets past the limit
    await asyncio.wait_for(last.ended.wait(), 10)

    assert len(runs.runs) == 3
    with pytest.raises(NotFoundError, match="no runbook run"):
        runs.get(started[0].id)
    assert runs.get(started[4].id) is started[4]


async def test_runs_past_the_limit_are_refused_and_stop_ends_those_in_progress(tmp_path: Path) -> None:
    runs = live_runs(tmp_path, running_limit=2)
    waiting = [runs.start(RunRequest("ops.md#wait", "ana"), "Wait") for _ in range(2)]
    with pytest.raises(ConflictError, match="2 runbook runs are in progress"):
        runs.start(RunRequest("ops.md#wait", "ana"), "Wait")

    await asyncio.wait_for(runs.stop(), 10)  # not the 30 s the steps would sleep

    for live in waiting:
        assert live.status is LiveStatus.CRASHED
        assert live.error == "stopped: the server shut down during the run"
