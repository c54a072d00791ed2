from __future__ import annotations

import asyncio

from vigil.engine.clock import FakeClock


async def test_fake_sleepers_wake_in_time_order_when_time_is_advanced() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 30), ("early", 5), ("mid", 10))]
    await asyncio.sleep(0)
    await clock.advance(9)
    assert woke == [("early", 5.0)]
    await clock.advance(100)
    assert woke == [("early", 5.0), ("mid", 10.0), ("late", 30.0)]
    assert clock.monotonic() == 109
    await asyncio.gather(*tasks)


async def test_fake_time_moves_wall_clock_and_monotonic_together() -> None:
    clock = FakeClock()
    before = clock.now()
    await clock.advance(90)
    assert (clock.now() - before).total_seconds() == 90
