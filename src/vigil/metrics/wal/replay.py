"""Rebuilding the series store from the write-ahead log at start.

Every segment is read in order; each series' samples are gathered across all of them into one
pair of arrays (a series is known by its labels' text, the same in every segment), then handed
to the store in one ``extend`` per series. The store refuses a sample not after the series' last,
so a replay can neither duplicate nor reorder one. Torn and corrupt records are skipped and
counted; nothing in a segment is fatal.
"""

from __future__ import annotations

import json
import logging
import math
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from vigil.metrics.store import SeriesStore
from vigil.metrics.wal.records import RecordKind, SamplesBatch, ScanCount, decode_samples, decode_series, scan
from vigil.metrics.wal.segments import segment_paths

log = logging.getLogger("vigil.series_log")
# Stands for a series whose record was lost; never written to.
_LOST = array("d")


@dataclass
class Replay:
    segments: int = 0
    records: int = 0
    skipped: int = 0  # torn or corrupt stretches and unreadable segments
    orphans: int = 0  # samples whose series' record was lost
    samples: int = 0  # samples the store kept
    series: int = 0
    seconds: float = 0.0
    newest: dict[int, float] = field(default_factory=dict)  # segment → its newest sample time


class _Gathered:
    """Each series' samples across segments, by a slot per series."""

    def __init__(self) -> None:
        self.slots: dict[str, int] = {}
        self.times: list[array[float]] = []
        self.values: list[array[float]] = []

    def slot(self, key: str) -> int:
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = len(self.times)
            self.times.append(array("d"))
            self.values.append(array("d"))
        return slot


def replay(folder: Path, store: SeriesStore, *, since: float = -math.inf) -> Replay:
    """Load every segment under ``folder`` into ``store``; a record whose samples are all at or
    before ``since`` (beyond the store's retention) is passed over unread."""
    began = time.perf_counter()
    done = Replay()
    gathered = _Gathered()
    for number, path in segment_paths(folder):
        done.segments += 1
        try:
            data = path.read_bytes()
        except OSError as err:
            log.warning("cannot read series log segment %s: %s", path, err.strerror)
            done.skipped += 1
            continue
        done.newest[number] = _segment(data, gathered, done, since)
    for key, slot in gathered.slots.items():
        times, values = gathered.times[slot], gathered.values[slot]
        if times:
            done.samples += store.extend(json.loads(key), times, values)
            done.series += 1
        gathered.times[slot] = gathered.values[slot] = array("d")  # freed as the store fills
    done.seconds = time.perf_counter() - began
    return done


def _segment(data: bytes, gathered: _Gathered, done: Replay, since: float) -> float:
    """Gather one segment's samples; returns its newest sample time."""
    count = ScanCount()
    # Local id → that series' arrays; _LOST where a series record was lost.
    times: list[array[float]] = []
    values: list[array[float]] = []
    known = 0
    newest = -math.inf
    for kind, payload in scan(data, count):
        if kind is RecordKind.SERIES:
            named = decode_series(payload)
            if named is None:
                count.skipped += 1
                continue
            for local, key in zip(named.ids, named.keys, strict=True):
                if local >= len(times):
                    grow = local + 1 - len(times)
                    times.extend([_LOST] * grow)
                    values.extend([_LOST] * grow)
                known += times[local] is _LOST
                slot = gathered.slot(key)
                times[local], values[local] = gathered.times[slot], gathered.values[slot]
            continue
        batch = decode_samples(payload)
        if batch is None:
            count.skipped += 1
            continue
        if not batch.times:
            continue
        latest = max(batch.times)
        newest = max(newest, latest)
        if latest > since:
            done.orphans += _gather(batch, times, values, whole=known == len(times))
    done.records += count.records
    done.skipped += count.skipped
    return newest


def _gather(
    batch: SamplesBatch, times: list[array[float]], values: list[array[float]], *, whole: bool
) -> int:
    """Append a record's samples to their series' arrays; returns how many had no series.
    ``whole``: every local id up to the highest named has its series."""
    ids = batch.ids
    if whole and max(ids) < len(times):
        for local, t, value in zip(ids, batch.times, batch.values, strict=True):
            times[local].append(t)
            values[local].append(value)
        return 0
    orphans = 0
    for local, t, value in zip(ids, batch.times, batch.values, strict=True):
        if local >= len(times) or times[local] is _LOST:
            orphans += 1
            continue
        times[local].append(t)
        values[local].append(value)
    return orphans
