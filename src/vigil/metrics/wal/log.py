"""``SeriesLog``: the series store's write-ahead log, so that a restart keeps the samples.

The store hands every sample it keeps to ``pending`` (a list append, on the event loop); every
``every`` seconds, or as soon as ``batch`` samples wait, the log writes them as one record and
fsyncs it in a worker thread, so the loop never waits on the disk. A ``kill -9`` therefore loses
the samples of the last ``every`` seconds at most (plus those of a write under way).

A folder that cannot be written, or a full disk, is told once through the log's stage (``/readyz``
and ``vigil_stage_up{stage="series-log"}``); the store keeps evaluating from memory, the unwritten
samples wait (up to ``backlog`` of them, the oldest dropped and counted beyond it) and each later
turn tries again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from vigil.engine.clock import Clock
from vigil.engine.supervisor import Stage
from vigil.metrics.store import Accepted, SeriesStore
from vigil.metrics.wal.replay import Replay, replay
from vigil.metrics.wal.segments import SEGMENT_SIZE, SegmentWriter

log = logging.getLogger("vigil.series_log")

_TICK = 0.1
_PRUNE_EVERY = 60.0
_MAX_WAIT = 30.0  # between tries of a disk that refuses


@dataclass(frozen=True)
class LogOptions:
    every: float = 1.0  # seconds between batches
    batch: int = 10_000  # samples that make a batch sooner
    backlog: int = 1_000_000  # unwritten samples kept (~100 MB) while the disk refuses them
    segment_size: int = SEGMENT_SIZE
    retention: float | None = None  # segments wholly older go (metrics.retention)
    max_size: int | None = None  # and the oldest while the log is larger (metrics.max_size)


@dataclass(frozen=True)
class LogStats:
    written: int  # samples on disk since start
    bytes: int
    lost: int  # samples dropped while writing failed
    failures: int  # failed writes
    pending: int
    segments: int
    replay: Replay | None


class SeriesLog:
    def __init__(
        self,
        folder: Path,
        clock: Clock,
        *,
        stage: Stage | None = None,
        options: LogOptions | None = None,
    ) -> None:
        self.folder = folder
        self.clock = clock
        self.stage = stage
        self.options = options = options or LogOptions()
        self.pending: list[Accepted] = []
        self._unwritten: list[Accepted] = []  # a batch the disk refused, tried again next turn
        self._writer = SegmentWriter(folder, options.segment_size)
        self._lock = asyncio.Lock()
        self.written = 0
        self.bytes = 0
        self.lost = 0
        self.failures = 0
        self.replayed: Replay | None = None
        self._refusals = 0  # in a row: while the disk refuses, tries come less often, up to _MAX_WAIT
        self._retry_at = -math.inf

    def open(self, store: SeriesStore, *, since: float = -math.inf) -> Replay:
        """Replay the segments into ``store``, then log every sample it keeps from now on."""
        done = replay(self.folder, store, since=since)
        self._writer.adopt(done.newest)
        if done.segments:
            told = log.warning if done.skipped or done.orphans else log.info
            told(
                "series log: %d samples of %d series from %d segments in %.1fs; "
                "%d torn or corrupt records skipped, %d samples without their series",
                done.samples,
                done.series,
                done.segments,
                done.seconds,
                done.skipped,
                done.orphans,
            )
        self.replayed = done
        store.sink = self.pending.append
        return done

    async def run(self) -> None:
        """Write a batch every ``every`` seconds, or sooner when ``batch`` samples wait."""
        last = pruned = self.clock.monotonic()
        while True:
            await self.clock.sleep(_TICK)
            now = self.clock.monotonic()
            waiting = self.pending or self._unwritten
            due = len(self.pending) >= self.options.batch or (now - last >= self.options.every and waiting)
            if due and now >= self._retry_at:
                await self.flush()
                last = self.clock.monotonic()
            if now - pruned >= _PRUNE_EVERY:
                self._prune()
                pruned = now

    async def flush(self) -> bool:
        """Write what waits; False if the disk refused it (it waits for the next turn)."""
        async with self._lock:
            batch = self._unwritten + self.pending
            self.pending.clear()
            self._unwritten = []
            if not batch:
                return True
            try:
                size = await asyncio.to_thread(self._writer.write, batch)
            except OSError as err:
                self._refused(batch, err)
                return False
            self.written += len(batch)
            self.bytes += size
            self._refusals = 0
            self._retry_at = -math.inf
            if self.stage is not None:
                self.stage.recovered()
            return True

    async def close(self) -> None:
        """Write what waits and close the open segment (a clean stop loses nothing)."""
        await self.flush()
        async with self._lock:
            await asyncio.to_thread(self._writer.close)

    def drop_before(self, t: float) -> int:
        """Delete whole segments whose newest sample is at or before ``t`` (their samples are in
        blocks, or beyond retention); returns how many. The open segment is never deleted."""
        return self._writer.drop_before(t)

    def drop_over(self, size: int) -> int:
        """Delete the oldest whole segments while the log takes more than ``size`` bytes."""
        return self._writer.drop_over(size)

    def _prune(self) -> None:
        retention, max_size = self.options.retention, self.options.max_size
        if retention is not None:
            self.drop_before(self.clock.now().timestamp() - retention)
        if max_size is not None:
            self.drop_over(max_size)

    def stats(self) -> LogStats:
        return LogStats(
            written=self.written,
            bytes=self.bytes,
            lost=self.lost,
            failures=self.failures,
            pending=len(self.pending) + len(self._unwritten),
            segments=self._writer.segments(),
            replay=self.replayed,
        )

    def _refused(self, batch: list[Accepted], err: OSError) -> None:
        self.failures += 1
        self._refusals += 1
        wait = self.options.every * 2 ** min(self._refusals - 1, 6)
        self._retry_at = self.clock.monotonic() + min(wait, _MAX_WAIT)
        over = len(batch) - self.options.backlog
        if over > 0:
            self.lost += over
            del batch[:over]
        self._unwritten = batch
        if self.stage is not None:
            reason = err.strerror or str(err)
            self.stage.failed(f"cannot write the series log in {self.folder}: {reason}", err)
