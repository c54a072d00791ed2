"""Rebuilding the series store from the write-ahead log at start.

Samples are logged in groups that share their time (a target's scrape, a check's result). Groups
that name the same series in the same order — one *shape* — are stacked: their times once, their
values one after another, so that each series' values are one strided slice of the stack, a copy
in C. The writer keeps a series' id from one segment to the next, so a shape's stack runs across
segments too, and the replay costs per scrape and per series, not per series and segment. When a
segment gives an id to another series (a later run of Vigil numbers its series afresh), the stacks
so far are first spread into each series' samples. A group naming a series its own segment does
not name (that record was lost) is read with its segment alone, the unnamed series' samples
counted as orphans.

Each series' samples, gathered from its stacks, go to the store in one ``extend``. The store
refuses a sample not after the series' last, so a replay can neither duplicate nor reorder one; a
series whose stacks came out of time order is sorted first and a repeated time kept once. Torn
and corrupt records are skipped and counted; nothing in a segment is fatal.

The garbage collector is paused meanwhile: the replay makes a few objects per series and keeps
them all, and each full collection would walk every one made so far.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import time
from array import array
from collections.abc import Container
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
    """Each series' samples across stacks, by a slot per series."""

    def __init__(self) -> None:
        self.slots: dict[str, int] = {}  # labels' text → slot
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

    def add(self, slot: int, times: array[float], values: array[float], *, ordered: bool) -> None:
        held = self.times[slot]
        if not ordered or (held and times[0] <= held[-1]):
            self.unsorted.add(slot)
        held.extend(times)
        self.values[slot].extend(values)

    def columns(self, slot: int) -> tuple[array[float], array[float]]:
        """The slot's samples in time order, each time once."""
        times, values = self.times[slot], self.values[slot]
        if slot in self.unsorted:  # rare: a series whose scrapes changed shape, or a later run's
            pairs = sorted(zip(times, values, strict=True), key=lambda pair: pair[0])
            times, values = array("d"), array("d")
            for t, value in pairs:
                if not times or t > times[-1]:  # a repeated time: the first one stays, as in the store
                    times.append(t)
                    values.append(value)
        self.times[slot] = self.values[slot] = array("d")  # freed as the store fills
        return times, values


class _Stack:
    """The groups of one shape: their times and their values' bytes, in the log's order."""

    __slots__ = ("chunks", "ordered", "times")

    def __init__(self) -> None:
        self.times = array("d")
        self.chunks: list[bytes] = []
        self.ordered = True  # each time after the one before (not so if a run lost a segment)


class _Stacks:
    """Stacks by shape while the ids keep the meaning the segments gave them."""

    def __init__(self, gathered: _Gathered, done: Replay) -> None:
        self.gathered = gathered
        self.done = done
        self.keys: dict[int, str] = {}  # id → the labels' text it was given
        self.slots: dict[int, int] = {}  # id → its series' slot
        self.by_shape: dict[bytes, _Stack] = {}

    def name(self, ids: array[int], keys: list[str]) -> None:
        known = self.keys
        for local, key in zip(ids, keys, strict=True):
            if known.get(local) != key:  # the same text each segment of a run: compared, not hashed
                if local in known:  # the id means another series from here on
                    self.flush()
                known[local] = key
                self.slots[local] = self.gathered.slot(key)

    def flush(self) -> None:
        for shape, stack in self.by_shape.items():
            self.spread(shape, stack, None)
        self.by_shape = {}

    def spread(self, shape: bytes, stack: _Stack, named: Container[int] | None) -> None:
        """Each series' column of ``stack`` to its slot; a series not ``named`` is an orphan."""
        ids = ids_of(shape)
        width = len(ids)
        values = floats_of(b"".join(stack.chunks))
        times, ordered, slots, add = stack.times, stack.ordered, self.slots, self.gathered.add
        for column, local in enumerate(ids):
            slot = slots.get(local) if named is None or local in named else None
            if slot is None:
                self.done.orphans += len(times)
            else:
                add(slot, times, values[column::width], ordered=ordered)


def replay(folder: Path, store: SeriesStore, *, since: float = -math.inf) -> Replay:
    """Load every segment under ``folder`` into ``store``; a record whose samples are all at or
    before ``since`` (beyond the store's retention) is passed over."""
    began = time.perf_counter()
    done = Replay()
    gathered = _Gathered()
    stacks = _Stacks(gathered, done)
    collecting = gc.isenabled()
    gc.disable()
    try:
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
            done.newest[number] = _segment(data, stacks, done, since)
        stacks.flush()
        for key, slot in gathered.slots.items():
            times, values = gathered.columns(slot)
            if times:
                done.samples += store.extend(json.loads(key), times, values, ordered=True)
                done.series += 1
    finally:
        if collecting:
            gc.enable()
    done.seconds = time.perf_counter() - began
    return done


def _segment(data: bytes, stacks: _Stacks, done: Replay, since: float) -> float:
    """Stack one segment's groups; returns its newest sample time."""
    count = ScanCount()
    named: set[int] = set()  # the ids this segment names
    whole: dict[bytes, bool] = {}  # shape → whether this segment names each of its series
    alone: dict[bytes, _Stack] = {}  # the groups of shapes it does not: spread with the segment
    by_shape = stacks.by_shape
    newest = -math.inf
    for kind, payload in scan(data, count):
        if kind is RecordKind.SERIES:
            batch = decode_series(payload)
            if batch is None:
                count.skipped += 1
                continue
            stacks.name(batch.ids, batch.keys)
            by_shape = stacks.by_shape  # a new dict if naming spread the stacks
            named.update(batch.ids)
            whole.clear()
            continue
        groups = decode_samples(payload)
        if groups is None:
            count.skipped += 1
            continue
        for t, shape, values_raw in groups:
            newest = max(newest, t)
            if not t > since:
                continue
            ok = whole.get(shape)
            if ok is None:
                ok = whole[shape] = named.issuperset(ids_of(shape))
            into = by_shape if ok else alone
            stack = into.get(shape)
            if stack is None:
                stack = into[shape] = _Stack()
            times = stack.times
            if times and t <= times[-1]:
                stack.ordered = False
            times.append(t)
            stack.chunks.append(values_raw)
    for shape, stack in alone.items():
        stacks.spread(shape, stack, named)
    done.records += count.records
    done.skipped += count.skipped
    return newest
