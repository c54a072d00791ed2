"""Blocks on disk: closed chunks of the series store, kept for ``metrics.retention``.

A block is an immutable folder under ``metrics.path`` named ``b-NNNNNN`` (a sequence number,
so that names sort in writing order): ``chunks`` (the chunks as the store holds them, one after
another), ``index.json.z`` (zlib-compressed JSON: each series' labels and its chunks' offset,
length, first and last time) and ``meta.json`` (min and max time, series, samples, bytes).
It is written under ``.tmp-b-NNNNNN``, each file fsynced, then renamed into place and the parent
fsynced, so a crash leaves either the whole block or a temp folder, which the next start removes.

Only the blocks' meta is read at start; a block's index is read when a query first reaches the
block and a few are kept (``INDEXES``). The newest blocks' last time per series is loaded at start
so that samples a write-ahead log replays and a block already holds are refused as duplicates.
Blocks go by age (their max time older than ``retention``) and by size (beyond ``max_size``),
oldest first. A chunk that does not decode (changed on disk, cut short) is skipped and counted, and
so is a block whose index or chunks cannot be read: a query answers from the rest, and each damaged
block is logged once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import zlib
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.metrics import chunks as codec
from vigil.metrics.disk_series import DiskSeries
from vigil.metrics.heads import NAME, series_key
from vigil.metrics.matchers import Plan
from vigil.metrics.matchers import plan as matchers_plan
from vigil.metrics.series import Matcher
from vigil.metrics.wal.segments import sync_folder

log = logging.getLogger(__name__)

PREFIX = "b-"
TEMP = ".tmp-"
INDEXES = 4  # block indexes kept in memory for queries
# Blocks whose max time is within this of the newest block's WAL floor give the replay floors.
REPLAY_MARGIN = 3600.0

Key = tuple[str, ...]
# A series in a block's index: labels, and per chunk (offset, length, first time, last time).
Entry = tuple[dict[str, str], list[tuple[int, int, float, float]]]


@dataclass(frozen=True)
class BlockMeta:
    name: str
    mint: float
    maxt: float
    series: int
    samples: int
    bytes: int  # of its chunks and index (its meta.json is a few hundred more)
    wal_floor: float  # every sample before it is in a block: the write-ahead log may drop it


class BlockSet:
    """The blocks under ``path``; reads them for the store (``disk_series.SeriesBlocks``)."""

    def __init__(self, path: Path, *, retention: float, max_size: int) -> None:
        self.path = path
        self.retention = retention
        self.max_size = max_size
        self.metas: list[BlockMeta] = []
        self._indexes: OrderedDict[str, dict[str, list[Entry]]] = OrderedDict()
        self._floors: dict[tuple[str, Key], float] = {}
        self._next = 1
        self.damaged: set[tuple[str, int]] = set()  # (block, offset) of chunks that did not decode
        self.unreadable: set[str] = set()  # blocks whose index or chunks could not be read
        self._warned: set[str] = set()  # blocks logged as damaged or unreadable (once each)

    def open(self) -> None:
        """Read every block's meta, remove torn temp folders, load the replay floors."""
        self.path.mkdir(parents=True, exist_ok=True)
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith(TEMP):
                log.warning("removing %s: a block whose writing did not finish", entry)
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(PREFIX) and entry.is_dir():
                try:
                    self.metas.append(BlockMeta(**json.loads((entry / "meta.json").read_text())))
                except (OSError, ValueError, TypeError) as err:
                    log.warning("skipping block %s: unreadable meta.json (%s)", entry, err)
        self.metas.sort(key=lambda meta: meta.name)
        if self.metas:
            self._next = int(self.metas[-1].name.removeprefix(PREFIX)) + 1
            floor = self.metas[-1].wal_floor - REPLAY_MARGIN
            for meta in self.metas:
                if meta.maxt >= floor:
                    for name, entries in (self._readable_index(meta) or {}).items():
                        for labels, refs in entries:
                            self._floors[name, series_key(labels)] = refs[-1][3]

    # --- reading (store.SeriesBlocks) ---------------------------------------------------------

    def newest(self) -> float:
        return self.metas[-1].maxt if self.metas else -math.inf

    def last_time(self, name: str, key: Key) -> float:
        """The newest time the blocks hold for a series, if among the newest blocks; -inf otherwise."""
        return self._floors.get((name, key), -math.inf)

    def read(self, matchers: Sequence[Matcher], start: float, end: float) -> list[DiskSeries]:
        plan = matchers_plan(tuple(matchers))
        found: dict[Key, DiskSeries] = {}
        for meta in self.metas:
            if meta.maxt <= start or meta.mint > end:
                continue
            index = self._readable_index(meta)
            if index is None:
                continue
            try:
                with open(self.path / meta.name / "chunks", "rb") as data:
                    self._read_block(meta.name, data, index, plan, start, end, found)
            except OSError as err:
                self._unreadable(meta.name, err)
        return [series for series in found.values() if series[1]]

    def _read_block(
        self,
        block: str,
        data: BinaryIO,
        index: dict[str, list[Entry]],
        plan: Plan,
        start: float,
        end: float,
        found: dict[Key, DiskSeries],
    ) -> None:
        for name in plan.names or list(index):
            if name not in index or not all(test(name) for test in plan.name_tests):
                continue
            for labels, refs in index[name]:
                if not all(labels.get(k, "") == v for k, v in plan.exact) or not all(
                    check(labels.get(label, "")) for label, check in plan.tests
                ):
                    continue
                key = (name, *series_key(labels))
                held = found.get(key)
                if held is None:
                    held = found[key] = (labels, array("d"), array("d"))
                self._read_chunks(block, data, refs, start, end, held)

    def _read_chunks(
        self,
        block: str,
        data: BinaryIO,
        refs: list[tuple[int, int, float, float]],
        start: float,
        end: float,
        into: DiskSeries,
    ) -> None:
        _labels, times, values = into
        for offset, length, first, last in refs:
            if last <= start or first > end:
                continue
            data.seek(offset)
            try:
                ts, vs = codec.decode(data.read(length))
            except codec.DamagedChunk as err:
                self.damaged.add((block, offset))
                self._warn(block, f"skipping its damaged chunks ({err})")
                continue
            low, high = bisect_right(ts, start), bisect_right(ts, end)
            times.extend(ts[low:high])
            values.extend(vs[low:high])

    def _readable_index(self, meta: BlockMeta) -> dict[str, list[Entry]] | None:
        """The block's index; None (logged once) when it cannot be read (tried again next time)."""
        try:
            return self._index(meta)
        except (OSError, ValueError, TypeError, zlib.error) as err:
            self._unreadable(meta.name, err)
            return None

    def _unreadable(self, block: str, err: Exception) -> None:
        self.unreadable.add(block)
        self._warn(block, f"skipping it, it cannot be read ({err})")

    def _warn(self, block: str, what: str) -> None:
        if block not in self._warned:
            self._warned.add(block)
            log.warning("series block %s: %s", self.path / block, what)

    def _index(self, meta: BlockMeta) -> dict[str, list[Entry]]:
        index = self._indexes.get(meta.name)
        if index is None:
            raw = json.loads(zlib.decompress((self.path / meta.name / "index.json.z").read_bytes()))
            index = {}
            for labels, refs in raw:
                index.setdefault(labels.get(NAME, ""), []).append((labels, [tuple(ref) for ref in refs]))
            self._indexes[meta.name] = index
            while len(self._indexes) > INDEXES:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(meta.name)
        return index

    # --- writing and deleting -----------------------------------------------------------------

    def write(
        self, series: Sequence[tuple[Mapping[str, str], Sequence[bytes]]], wal_floor: float
    ) -> BlockMeta | None:
        """A new block of ``series`` (labels, closed chunks oldest first); None when there is none."""
        series = [(labels, chunks) for labels, chunks in series if chunks]
        if not series:
            return None
        name = f"{PREFIX}{self._next:06d}"
        temp = self.path / f"{TEMP}{name}"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        index: list[tuple[dict[str, str], list[tuple[int, int, float, float]]]] = []
        offset = samples = 0
        mint, maxt = math.inf, -math.inf
        with open(temp / "chunks", "wb") as data:
            for labels, chunks in series:
                refs = []
                for chunk in chunks:
                    first, last = codec.bounds(chunk)
                    data.write(chunk)
                    refs.append((offset, len(chunk), first, last))
                    offset += len(chunk)
                    samples += codec.count(chunk)
                    mint, maxt = min(mint, first), max(maxt, last)
                index.append((dict(labels), refs))
            _sync(data)
        size = offset + _write(temp / "index.json.z", zlib.compress(json.dumps(index).encode(), 6))
        meta = BlockMeta(name, mint, maxt, len(series), samples, size, wal_floor)
        _write(temp / "meta.json", json.dumps(asdict(meta)).encode())
        os.replace(temp, self.path / name)
        sync_folder(self.path)
        self._next += 1
        self.metas.append(meta)
        return meta

    def apply_retention(self, now: float) -> list[str]:
        """Delete blocks older than ``retention``, then the oldest beyond ``max_size``; their names."""
        gone = []
        total = sum(meta.bytes for meta in self.metas)
        for meta in list(self.metas):
            if meta.maxt < now - self.retention or total > self.max_size:
                shutil.rmtree(self.path / meta.name, ignore_errors=True)
                self.metas.remove(meta)
                self._indexes.pop(meta.name, None)
                self.unreadable.discard(meta.name)
                self.damaged = {ref for ref in self.damaged if ref[0] != meta.name}
                total -= meta.bytes
                gone.append(meta.name)
        return gone


class BlockCollector(Collector):
    """The blocks' figures on Vigil's own ``/metrics``."""

    def __init__(self, blocks: BlockSet) -> None:
        self.blocks = blocks

    def collect(self) -> Iterator[Metric]:
        metas = list(self.blocks.metas)
        yield GaugeMetricFamily("vigil_series_blocks", "Series blocks on disk.", value=len(metas))
        yield GaugeMetricFamily(
            "vigil_series_block_bytes",
            "Bytes of the series blocks on disk.",
            value=sum(m.bytes for m in metas),
        )
        yield GaugeMetricFamily(
            "vigil_series_block_damaged_chunks",
            "Chunks in the blocks that did not decode when a query read them (skipped).",
            value=len(self.blocks.damaged),
        )
        yield GaugeMetricFamily(
            "vigil_series_blocks_unreadable",
            "Blocks whose index or chunks could not be read (skipped).",
            value=len(self.blocks.unreadable),
        )


def _write(path: Path, payload: bytes) -> int:
    with open(path, "wb") as out:
        out.write(payload)
        _sync(out)
    return len(payload)


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
