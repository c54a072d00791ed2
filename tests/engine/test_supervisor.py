"""The supervisor: a task that raises is logged once, started again with backoff, and well again
once it has run a while; its health is what /readyz and /metrics show."""

from __future__ import annotations

import asyncio

import pytest

from vigil.engine.clock import FakeClock
from vigil.engine.supervisor import StageStatus, Supervisor


class Flaky:
    """Work that raises its first ``failures`` runs, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts: list[float] = []

    async def run(self, clock: FakeClock) -> None:
        self.starts.append(clock.monotonic())
        if len(self.starts) <= self.failures:
            raise ConnectionRefusedError(111, "Connection refused")
        await asyncio.Event().wait()


async def test_a_failing_task_is_logged_once_restarted_with_backoff_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    supervisor = Supervisor(clock, backoff=1.0, max_backoff=8.0, settle=10.0)
    flaky = Flaky(failures=6)
    task = supervisor.spawn("scraper", lambda: flaky.run(clock))
    stage = supervisor.stage("scraper")
    try:
        await asyncio.sleep(0)
        assert stage.status is StageStatus.FAILING
        assert stage.failing_since == clock.now()
        assert stage.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
        for _ in range(60):
            await clock.advance(1)
        # Started at 0, then after 1, 2, 4, 8 and 8 s (the ceiling): doubling, capped.
        assert flaky.starts == [0, 1, 3, 7, 15, 23, 31]
        assert stage.restarts == 6
        assert task.get_name() == "vigil-scraper"
        # Running since 31 s, well again at 41 s: failing no more, the streak's backoff forgotten.
        assert (stage.status, stage.failing_since, stage.failures) == (StageStatus.OK, None, 0)
        lines = [r.getMessage() for r in caplog.records if r.name == "vigil.supervisor"]
        assert lines == [
            "scraper failing: ConnectionRefusedError: [Errno 111] Connection refused",
            "scraper recovered after 41s (last error: ConnectionRefusedError: [Errno 111] Connection refused)",
        ]
    finally:
        await supervisor.stop()
    assert task.cancelled()


async def test_a_task_that_ends_on_its_own_is_a_failure_and_runs_again() -> None:
    clock = FakeClock()
    supervisor = Supervisor(clock)
    runs: list[float] = []

    async def once() -> None:
        runs.append(clock.monotonic())

    supervisor.spawn("history", once)
    try:
        await asyncio.sleep(0)
        await clock.advance(3.5)
        stage = supervisor.stage("history")
        assert (stage.status, stage.last_error) == (StageStatus.FAILING, "stopped on its own")
        assert runs == [0, 1, 3]
    finally:
        await supervisor.stop()


async def test_a_bug_is_logged_with_its_traceback_and_a_secret_is_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    supervisor = Supervisor(clock, redact=lambda text: text.replace("hunter22", "***"))

    async def broken() -> None:
        raise KeyError("token hunter22")

    supervisor.spawn("rules", broken)
    try:
        await asyncio.sleep(0)
        [record] = [r for r in caplog.records if r.name == "vigil.supervisor"]
        assert record.getMessage() == "rules failing: KeyError: 'token ***'"
        assert record.exc_info is not None  # not an outside failure: whoever fixes it needs the trace
        assert supervisor.stage("rules").last_error == "KeyError: 'token ***'"
    finally:
        await supervisor.stop()
