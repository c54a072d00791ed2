"""The scheduler on a fake clock: intervals, jitter, no overlap, the concurrency bound."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from vigil.config.cron import next_moment
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.engine.scheduler import Scheduler
from vigil.probes.base import Result


@pytest.fixture
async def listening_port() -> AsyncIterator[int]:
    async def close(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


def stack_text(port: int) -> str:
    return f"""
services:
  web:
    checks:
      fast: {{tcp: "127.0.0.1:{port}", every: 10s}}
      slow: {{tcp: "127.0.0.1:{port}", every: 30s}}
"""


async def run_for(scheduler: Scheduler, clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)
    elapsed = 0.0
    while elapsed < seconds:
        await clock.advance(step)
        # Let the probes' real I/O finish before time moves on.
        for _ in range(50):
            if not scheduler._tasks:
                break
            await asyncio.sleep(0.005)
        elapsed += step
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_each_check_runs_at_its_own_interval(listening_port: int) -> None:
    clock = FakeClock()
    seen: list[Result] = []

    async def collect(result: Result) -> None:
        seen.append(result)

    probes = ProbeSet()
    stack = parse_stack("t.yaml", stack_text(listening_port), {})
    scheduler = Scheduler(stack.specs(), CheckRunner(probes, clock), collect, clock=clock, jitter=0)
    await run_for(scheduler, clock, 55)
    await probes.aclose()
    counts = Counter(r.check_id for r in seen)
    assert counts == {"web.fast": 6, "web.slow": 2}
    assert all(r.ok for r in seen)


async def test_jitter_spreads_first_runs_over_the_interval(listening_port: int) -> None:
    clock = FakeClock()
    first_seen: dict[str, float] = {}

    async def collect(result: Result) -> None:
        first_seen.setdefault(result.check_id, clock.monotonic())

    text = "services:\n  s:\n    checks:\n" + "".join(
        f"      c{i}: {{tcp: '127.0.0.1:{listening_port}', every: 20s}}\n" for i in range(20)
    )
    probes = ProbeSet()
    stack = parse_stack("t.yaml", text, {})
    scheduler = Scheduler(
        stack.specs(), CheckRunner(probes, clock), collect, clock=clock, jitter=1.0, rng=random.Random(7)
    )
    await run_for(scheduler, clock, 20)
    await probes.aclose()
    starts = sorted(first_seen.values())
    assert len(starts) == 20
    assert starts[0] < 5 and starts[-1] > 15  # spread over the interval, not bunched at zero


async def test_a_check_still_running_skips_its_turn_instead_of_overlapping() -> None:
    clock = FakeClock()
    seen: list[Result] = []

    async def collect(result: Result) -> None:
        seen.append(result)

    text = "services:\n  s:\n    checks:\n      c: {command: 'sleep 0.4', every: 1s, timeout: 5s}\n"
    probes = ProbeSet()
    stack = parse_stack("t.yaml", text, {})
    scheduler = Scheduler(stack.specs(), CheckRunner(probes, clock), collect, clock=clock, jitter=0)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)
    for _ in range(5):  # five fake seconds pass while the first run (0.4 s real) is still going
        await clock.advance(1)
    await asyncio.sleep(0.6)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await probes.aclose()
    assert scheduler.skipped >= 4
    assert len(seen) == 1


async def test_no_more_checks_run_at_once_than_the_concurrency_bound() -> None:
    clock = FakeClock()
    text = "services:\n  s:\n    checks:\n" + "".join(
        f"      c{i}: {{command: 'sleep 0.2', every: 60s}}\n" for i in range(6)
    )
    peak = 0

    async def collect(_result: Result) -> None:
        return None

    probes = ProbeSet()
    stack = parse_stack("t.yaml", text, {})
    scheduler = Scheduler(
        stack.specs(), CheckRunner(probes, clock), collect, clock=clock, concurrency=2, jitter=0
    )
    task = asyncio.create_task(scheduler.run())
    for _ in range(40):
        await asyncio.sleep(0.02)
        peak = max(peak, len(scheduler._running))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await probes.aclose()
    assert peak == 2
    assert scheduler.runs == 6


async def test_waiting_for_a_slot_held_by_a_hanging_check_still_beats(silent_port: int) -> None:
    # An outage where every slot waits out a timeout: the scheduler is busy, not dead.
    clock = FakeClock()
    text = "services:\n  s:\n    checks:\n" + "".join(
        f"      c{i}: {{http: 'http://127.0.0.1:{silent_port}/', every: 60s, timeout: 2s}}\n"
        for i in range(2)
    )

    async def collect(_result: Result) -> None:
        return None

    probes = ProbeSet()
    stack = parse_stack("t.yaml", text, {})
    scheduler = Scheduler(
        stack.specs(), CheckRunner(probes, clock), collect, clock=clock, concurrency=1, jitter=0
    )
    task = asyncio.create_task(scheduler.run())
    for _ in range(10):
        await clock.advance(1)
    assert len(scheduler._running) == 1  # the first check hangs; the second waits for its slot
    assert scheduler.runs == 0
    assert scheduler.alive_at == clock.monotonic() == 10
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await probes.aclose()
    assert scheduler._slots._value == 1  # the cancelled wait took no slot with it


async def test_a_scheduler_without_checks_keeps_beating() -> None:
    clock = FakeClock()

    async def collect(_result: Result) -> None:
        return None

    scheduler = Scheduler([], CheckRunner(ProbeSet(), clock), collect, clock=clock)
    task = asyncio.create_task(scheduler.run())
    for _ in range(10):
        await clock.advance(1)
    assert not task.done()
    assert scheduler.alive_at == 10
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cron_schedule_runs_at_local_time_across_the_march_change(listening_port: int) -> None:
    # Europe/London moves from GMT to BST at 01:00 UTC on 29 March 2026: 03:00 local is
    # 03:00 UTC before it and 02:00 UTC after.
    clock = FakeClock(datetime(2026, 3, 27, 0, 0, tzinfo=UTC))
    runs: list[datetime] = []

    async def collect(result: Result) -> None:
        runs.append(result.started_at)

    text = (
        "services:\n  s:\n    checks:\n"
        f"      nightly: {{tcp: '127.0.0.1:{listening_port}', schedule: '0 3 * * *', timezone: Europe/London}}\n"
    )
    probes = ProbeSet()
    scheduler = Scheduler(
        parse_stack("t.yaml", text, {}).specs(),
        CheckRunner(probes, clock),
        collect,
        clock=clock,
        beat=3600.0,  # four fake days without a wake a second
    )
    await run_for(scheduler, clock, 4 * 86400, step=3600)
    await probes.aclose()
    assert runs == [
        datetime(2026, 3, 27, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 28, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 2, 0, tzinfo=UTC),
    ]


async def test_a_fixed_hour_repeated_by_the_october_change_runs_once() -> None:
    after = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    moments = []
    for _ in range(3):
        after = next_moment("30 1 * * *", "Europe/London", after)
        moments.append(after.astimezone(UTC))
    # 01:30 happens twice on 25 October (BST, then GMT); the job runs at the first only.
    assert moments == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 27, 1, 30, tzinfo=UTC),
    ]
    hourly = [datetime(2026, 10, 25, 0, 50, tzinfo=UTC)]
    for _ in range(3):
        hourly.append(next_moment("50 * * * *", "Europe/London", hourly[-1]))
    assert [m.astimezone(UTC).hour for m in hourly[1:]] == [1, 2, 3]  # every hour, the repeated one too
