"""Time, injected: every component asks a ``Clock`` instead of the system.

``SystemClock`` is the real one; ``FakeClock`` lets tests run ``every: 30s`` schedules in
milliseconds by advancing time by hand.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when ``advance`` is called; sleepers wake in time order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own moment and letting it run."""
        target = self._elapsed + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            wake_at, _, future = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, wake_at)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._elapsed = target
        await _settle()


async def nap(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep ``seconds`` of ``clock``, or until ``wake`` is set (not at all when it is already):
    a background task's wait for its next due moment that news of new work cuts short."""
    if wake.is_set():
        return
    # The deadline is taken now, not when the sleeper task first runs: time that moves in
    # between (a fake clock advanced by a test) shortens the nap instead of being lost.
    sleeper = asyncio.ensure_future(_sleep_until(clock, clock.monotonic() + seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()


async def _sleep_until(clock: Clock, deadline: float) -> None:
    await clock.sleep(deadline - clock.monotonic())


async def _settle() -> None:
    # Several loop turns so that woken tasks reach their next await before time moves on.
    for _ in range(20):
        await asyncio.sleep(0)
