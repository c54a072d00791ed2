"""Compaction: the store's closed chunks written to a block on disk, then the WAL trimmed.

Every ``every`` seconds (2 h of data, as Prometheus cuts its head blocks) and at shutdown, the
chunks no block holds yet go into a new block (``BlockSet.write``). Each head is closed into a
chunk first up to ``HEAD_SPAN`` before now (all of it at shutdown), so that no sample stays in
memory alone until the store's retention drops it: that retention must be at least ``every +
HEAD_SPAN``. The newest samples stay plain for the rules' short windows. Then the write-ahead log may drop its segments whose
samples all come before the oldest sample not yet in a block (``WalTruncation.drop_before``), and
old blocks go by age and size. Memory keeps the chunks until its own retention (``store.prune``),
so queries of the last hours never read the disk.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from vigil.config.series_storage import SeriesStorage
from vigil.engine.clock import Clock
from vigil.engine.supervisor import Stage
from vigil.metrics.blocks import BlockMeta, BlockSet
from vigil.metrics.heads import SeriesRef
from vigil.metrics.store import DEFAULT_MAX_SERIES, SeriesStore

log = logging.getLogger(__name__)

BLOCK_SPAN = 2 * 3600.0
# Samples this recent stay in the head at a compaction: an instant selector's 5-minute lookback
# and a `[5m]` window.
HEAD_SPAN = 600.0
# What memory keeps: a block's worth and the head, with an hour to spare for a late compaction.
MEMORY_RETENTION = BLOCK_SPAN + HEAD_SPAN + 3600.0


Persisting = tuple[Mapping[str, str], Sequence[bytes]]
"""A series' labels and its closed chunks no block holds yet."""


class WalTruncation(Protocol):
    """What compaction needs of the write-ahead log."""

    def drop_before(self, t: float) -> int:
        """Delete the log's segments whose samples all come before ``t``."""


class Compactor:
    def __init__(
        self,
        store: SeriesStore,
        blocks: BlockSet,
        wal: WalTruncation | None = None,
        *,
        every: float = BLOCK_SPAN,
    ) -> None:
        if store.retention < every + HEAD_SPAN:
            raise ValueError(
                f"the series store keeps {store.retention:.0f}s in memory: compacting every {every:.0f}s needs "
                f"at least {every + HEAD_SPAN:.0f}s, or samples would go before a block holds them"
            )
        self.store = store
        self.blocks = blocks
        self.wal = wal
        self.every = every
        self.failures = 0

    def compact(self, now: float, *, closing: bool = False) -> BlockMeta | None:
        """Write the chunks no block holds into a new one; returns its meta (None if none were new)."""
        batch, written, floor = self._collect(now, closing=closing)
        return self._finish(self.blocks.write(batch, floor), written, now)

    async def compact_aside(self, now: float, *, closing: bool = False) -> BlockMeta | None:
        """``compact`` with the block's files written in a thread, off the event loop: the chunks
        are chosen and marked persisted on the loop, where the store is written."""
        batch, written, floor = self._collect(now, closing=closing)
        meta = await asyncio.to_thread(self.blocks.write, batch, floor)
        return self._finish(meta, written, now)

    def _collect(
        self, now: float, *, closing: bool
    ) -> tuple[list[Persisting], list[tuple[SeriesRef, int]], float]:
        batch: list[Persisting] = []
        written: list[tuple[SeriesRef, int]] = []
        floor = math.inf
        for series in self.store.held():
            series.close(math.inf if closing else now - HEAD_SPAN, merge=True)
            if len(series.chunks) > series.persisted:
                batch.append((series.labels, series.chunks[series.persisted :]))
                written.append((series, len(series.chunks)))
            if series.values:
                floor = min(floor, series.times[0])
        return batch, written, floor if math.isfinite(floor) else now

    def _finish(
        self, meta: BlockMeta | None, written: list[tuple[SeriesRef, int]], now: float
    ) -> BlockMeta | None:
        for series, count in written:
            series.persisted = count
        if meta is not None:
            log.info(
                "series block %s: %d series, %d samples, %d bytes",
                meta.name,
                meta.series,
                meta.samples,
                meta.bytes,
            )
            if self.wal is not None:
                self.wal.drop_before(meta.wal_floor)
        for name in self.blocks.apply_retention(now):
            log.info(
                "series block %s deleted (retention %.0fs, max size %d bytes)",
                name,
                self.blocks.retention,
                self.blocks.max_size,
            )
        return meta

    async def run(self, clock: Clock, stage: Stage | None = None) -> None:
        """Compact every ``every`` seconds until cancelled; a failure is logged once (and shown on
        ``stage``) and tried again next time."""
        while True:
            await clock.sleep(self.every)
            try:
                await self.compact_aside(clock.now().timestamp())
            except OSError as err:
                self.failures += 1
                if stage is not None:
                    stage.failed(f"could not write a series block under {self.blocks.path}: {err}", err)
                elif self.failures == 1:
                    log.error("could not write a series block under %s: %s", self.blocks.path, err)
                continue
            self.failures = 0
            if stage is not None:
                stage.recovered()


def open_series(
    folder: Path,
    storage: SeriesStorage,
    wal: WalTruncation | None = None,
    *,
    max_series: int = DEFAULT_MAX_SERIES,
) -> tuple[SeriesStore, Compactor]:
    """The series store over the blocks in ``folder`` (``metrics.path``, resolved), loaded, and
    its compactor: ``vigil up`` runs ``compactor.run`` beside ``store.run`` and calls
    ``compact(now, closing=True)`` at shutdown. A write-ahead log replays into the store after this."""
    blocks = BlockSet(folder, retention=storage.retention, max_size=int(storage.max_size))
    try:
        blocks.open()
    except OSError as err:  # each compaction tries again to write, and shows its failure
        log.error("cannot read the series blocks in %s: %s", folder, err)
    store = SeriesStore(retention=MEMORY_RETENTION, max_series=max_series, blocks=blocks)
    return store, Compactor(store, blocks, wal)
