"""Rebuilding the series store from the write-ahead log at start.

Each series' samples are gathered across every segment into one pair of arrays (a series is
known by its labels' text, the same in every segment), then handed to the store in one ``extend``
per series. Inside a segment, the groups of one record kind that name the same series in the same
order (a target's scrapes, a check's results) are stacked: their times are the same for each of
those series, and each series' values are one strided slice of the stack — copies in C, so the
replay costs per scrape and per series rather than per sample.

The store refuses a sample not after the series' last, so a replay can neither duplicate nor
reorder one; a series whose samples came in several stacks is sorted by time first. Torn and
corrupt records are skipped and counted; nothing in a segment is fatal.
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
from vigil.metrics.wal.records import (
    RecordKind,
    ScanCount,
    decode_samples,
    decode_series,
    floats_of,
    ids_of,
    scan,
)
from vigil.metrics.wal.segments import segment_paths

log = logging.getLogger("vigil.series_log")


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
        self.unsorted: set[int] = set()

    def slot(self, key: str) -> int:
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = len(self.times)
            self.times.append(array("d"))
            self.values.append(array("d"))
        return slot

    def add(self, slot: int, times: array[float], values: array[float]) -> None:
        held = self.times[slot]
        if held and times[0] <= held[-1]:
            self.unsorted.add(slot)
        held.extend(times)
        self.values[slot].extend(values)

    def columns(self, slot: int) -> tuple[array[float], array[float]]:
        times, values = self.times[slot], self.values[slot]
        if slot in self.unsorted:  # rare: a series whose scrapes changed shape within a segment
            pairs = sorted(zip(times, values, strict=True), key=lambda pair: pair[0])
            times, values = array("d", (p[0] for p in pairs)), array("d", (p[1] for p in pairs))
        self.times[slot] = self.values[slot] = array("d")  # freed as the store fills
        return times, values


def replay(folder: Path, store: SeriesStore, *, since: float = -math.inf) -> Replay:
    """Load every segment under ``folder`` into ``store``; a record whose samples are all at or
    before ``since`` (beyond the store's retention) is passed over."""
    began = time.perf_counter()
    done = Replay()
    gathered = _Gathered()
    try:
        found = segment_paths(folder)
    except OSError as err:  # the log's writes say so too, through its stage
        log.warning("cannot read the series log in %s: %s", folder, err.strerror)
        found = []
    for number, path in found:
        done.segments += 1
        try:
            data = path.read_bytes()
        except OSError as err:
            log.warning("cannot read series log segment %s: %s", path, err.strerror)
            done.skipped += 1
            continue
        done.newest[number] = _segment(data, gathered, done, since)
    for key, slot in gathered.slots.items():
        times, values = gathered.columns(slot)
        if times:
            done.samples += store.extend(json.loads(key), times, values)
            done.series += 1
    done.seconds = time.perf_counter() - began
    return done


def _segment(data: bytes, gathered: _Gathered, done: Replay, since: float) -> float:
    """Gather one segment's samples; returns its newest sample time."""
    count = ScanCount()
    slots: dict[int, int] = {}  # segment-local id → slot
    # Group shape (its ids' bytes) → the times of its groups and their values, in order.
    stacks: dict[bytes, tuple[array[float], list[bytes]]] = {}
    newest = -math.inf
    for kind, payload in scan(data, count):
        if kind is RecordKind.SERIES:
            named = decode_series(payload)
            if named is None:
                count.skipped += 1
                continue
            for local, key in zip(named.ids, named.keys, strict=True):
                slots[local] = gathered.slot(key)
            continue
        groups = decode_samples(payload)
        if groups is None:
            count.skipped += 1
            continue
        for t, shape, values_raw in groups:
            newest = max(newest, t)
            if t > since:
                stack = stacks.get(shape)
                if stack is None:
                    stack = stacks[shape] = (array("d"), [])
                stack[0].append(t)
                stack[1].append(values_raw)
    add = gathered.add
    for shape, (times, chunks) in stacks.items():
        ids = ids_of(shape)
        width = len(ids)
        values = floats_of(b"".join(chunks))
        for column, local in enumerate(ids):
            slot = slots.get(local)
            if slot is None:
                done.orphans += len(times)
            else:
                add(slot, times, values[column::width])
    done.records += count.records
    done.skipped += count.skipped
    return newest
