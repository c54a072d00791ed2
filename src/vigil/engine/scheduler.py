"""The scheduler: every check at its interval, with jitter, under one concurrency bound.

Fixed-rate: a check due at ``t`` is next due at ``t + every`` however long it ran, so one
slow target does not drift its own schedule; a check still running when it is due again
skips that turn rather than piling up. Lag (start - due) is kept for ``vigil``'s own metrics
and the scheduling benchmark.

A check with a cron ``schedule`` runs at each of its moments instead, read in its own time
zone (``config.cron``): the next moment is taken from the wall clock each time, so a daily
03:00 in Europe/London stays at 03:00 local across the changes of summer time.

``alive_at`` is the heartbeat ``/livez`` reads: it beats at least once a second, also while the
loop waits for a free slot (an outage where every check runs into its timeout) and when there
are no checks at all (a stack of only metrics and rules) — busy or idle is not dead.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from vigil.config.cron import next_moment
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock, SystemClock
from vigil.engine.runner import CheckRunner
from vigil.probes.base import Result

ResultHandler = Callable[[Result], Awaitable[None]]
_BEAT = 1.0  # seconds between heartbeats at most, whatever the loop is waiting for


class Scheduler:
    def __init__(
        self,
        specs: Iterable[CheckSpec],
        runner: CheckRunner,
        on_result: ResultHandler,
        *,
        clock: Clock | None = None,
        concurrency: int = 500,
        jitter: float = 1.0,
        rng: random.Random | None = None,
        lag_window: int = 100_000,
        beat: float = _BEAT,
    ) -> None:
        self.specs = list(specs)
        self.runner = runner
        self.on_result = on_result
        self.clock = clock or SystemClock()
        self.jitter = jitter
        self.beat = beat  # how often the loop shows it is alive while it waits
        self.rng = rng or random.Random()
        self.lags: deque[float] = deque(maxlen=lag_window)
        self.runs = 0
        self.skipped = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue: list[tuple[float, int, CheckSpec]] = []
        self._seq = itertools.count()
        self.alive_at = self.clock.monotonic()

    async def run(self) -> None:
        """Run until cancelled; on cancellation, waits for checks in flight to finish."""
        start = self.clock.monotonic()
        for spec in self.specs:
            if (schedule := spec.config.schedule) is not None:
                first = self._moment_after(schedule, spec.config.timezone, self.clock.now())
            else:
                # Jitter spreads first runs over the interval so that 10,000 checks don't start together.
                first = start + self.rng.uniform(0, spec.config.every * self.jitter)
            heapq.heappush(self._queue, (first, next(self._seq), spec))
        try:
            while True:
                self.alive_at = self.clock.monotonic()
                if not self._queue:
                    await self.clock.sleep(self.beat)
                    continue
                due = self._queue[0][0]
                wait = due - self.clock.monotonic()
                if wait > 0:
                    await self.clock.sleep(min(wait, self.beat))
                    continue
                _, _, spec = heapq.heappop(self._queue)
                heapq.heappush(self._queue, (self._next_due(due, spec), next(self._seq), spec))
                if spec.id in self._running:
                    self.skipped += 1
                    continue
                await self._acquire_slot()
                self._running.add(spec.id)
                task = asyncio.create_task(self._run_one(spec, due))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _acquire_slot(self) -> None:
        """Wait for a concurrency slot, beating every second while every slot is taken."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        acquiring = asyncio.ensure_future(self._slots.acquire())
        try:
            while not acquiring.done():
                beat = asyncio.ensure_future(self.clock.sleep(self.beat))
                try:
                    await asyncio.wait((acquiring, beat), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    beat.cancel()
                self.alive_at = self.clock.monotonic()
            acquiring.result()
        except BaseException:
            # Cancelled while waiting: give back a slot that was granted in the same instant.
            if acquiring.done() and not acquiring.cancelled() and acquiring.exception() is None:
                self._slots.release()
            acquiring.cancel()
            raise

    def _next_due(self, due: float, spec: CheckSpec) -> float:
        if (schedule := spec.config.schedule) is not None:
            # After the moment this run was due at (not after now, which may be a little later
            # and still within it); a moment already past, after a long stall, is skipped.
            zone = spec.config.timezone
            wall_due = self.clock.now() - timedelta(seconds=self.clock.monotonic() - due)
            following = self._moment_after(schedule, zone, wall_due)
            if following <= self.clock.monotonic():
                following = self._moment_after(schedule, zone, self.clock.now())
            return following
        every = spec.config.every
        following = due + every
        now = self.clock.monotonic()
        if following <= now:  # fell behind by a whole interval: skip ahead instead of bursting
            following += ((now - following) // every + 1) * every
        return following

    def _moment_after(self, schedule: str, zone: str, after: datetime) -> float:
        """The next moment of ``schedule`` after ``after``, on the monotonic clock."""
        moment = next_moment(schedule, zone, after)
        return self.clock.monotonic() + (moment - self.clock.now()).total_seconds()

    async def _run_one(self, spec: CheckSpec, due: float) -> None:
        try:
            self.lags.append(self.clock.monotonic() - due)
            result = await self.runner.run(spec)
            self.runs += 1
            await self.on_result(result)
        finally:
            self._running.discard(spec.id)
            self._slots.release()
