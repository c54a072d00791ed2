"""Recent samples in memory: the ``SeriesSource`` the PromQL evaluator reads.

Series are filed by metric name (``__name__`` → series), so that a selector naming its metric
looks at that metric only. A series keeps its samples in two ``array('d')`` (timestamps, values):
16 bytes a sample, where two lists of Python floats would take ~64. Memory is bounded twice:
``retention`` drops old samples (``prune``) and ``max_series`` refuses series beyond a count.

As in Prometheus' head block, the samples of a series come in time order: an older or repeated
timestamp is refused and counted, never inserted. Labels with an empty value are dropped, since
PromQL treats a missing label and an empty one alike.

Each series also notes, as it is written, the few samples that make evaluation slow: NaNs (stale
markers among them) and drops (a value below the one before it: a counter reset). A window holding
neither is returned as ``nan_free`` and ``monotonic``, so that ``rate`` and the ``*_over_time``
functions need not look at each sample for them. A series with more than ``MAX_MARKS`` of either
(a gauge goes down all the time) stops noting them and is always looked at.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise
from operator import gt
from types import MappingProxyType

from vigil.engine.clock import Clock
from vigil.metrics.matchers import plan as matchers_plan
from vigil.metrics.series import Matcher, SeriesData

NAME = "__name__"
# An hour for `[1h]` ranges, plus Prometheus' 5-minute lookback for an instant selector at its start.
DEFAULT_RETENTION = 3600.0 + 300.0
# ~19 bytes a sample, so ~5 KB a series sampled every 15 s for 65 minutes: ~1 GB at the bound.
DEFAULT_MAX_SERIES = 200_000
# Resets and NaNs noted per series, beyond which it is taken to have them anywhere.
MAX_MARKS = 8
# Shared, never written: "too many marks to note".
_UNTRACKED = array("d")

Sample = tuple[Mapping[str, str], float, float]
"""Labels (``__name__`` included), Unix time in seconds, value."""


class SeriesRef:
    """One stored series. Opaque outside this module: a scraper holds it to mark the series stale."""

    __slots__ = ("drop_at", "labels", "live", "nameless", "nan_at", "seq", "timestamps", "values")

    def __init__(self, labels: Mapping[str, str], seq: int = 0) -> None:
        # Read-only views: the evaluator gets these labels as they are, without a copy per query,
        # and most functions drop __name__, so that copy is made once here.
        self.labels = MappingProxyType(dict(labels))
        self.nameless = (
            MappingProxyType({k: v for k, v in labels.items() if k != NAME})
            if NAME in labels
            else self.labels
        )
        self.timestamps = array("d")
        self.values = array("d")
        self.live = True
        self.seq = seq  # creation order: ties (topk) resolve in it, as in Prometheus 2.42
        # Times of NaN samples and of drops (None: none; _UNTRACKED: more than MAX_MARKS).
        self.nan_at: array[float] | None = None
        self.drop_at: array[float] | None = None

    def note(self, t: float, value: float, previous: float) -> None:
        """Note the sample at ``t`` if it is NaN or lower than ``previous``."""
        if value != value:  # noqa: PLR0124 - NaN is the only value unequal to itself
            self.nan_at = _mark(self.nan_at, t)
        elif value < previous:
            self.drop_at = _mark(self.drop_at, t)


Accepted = tuple[SeriesRef, float, float]
"""A sample the store kept: its series, time, value (what the write-ahead log is handed)."""


def _mark(marks: array[float] | None, t: float) -> array[float]:
    if marks is None:
        return array("d", (t,))
    if marks is not _UNTRACKED:
        if len(marks) >= MAX_MARKS:
            return _UNTRACKED
        marks.append(t)
    return marks


def _none_in(marks: array[float] | None, low: float, high: float, *, closed: bool) -> bool:
    """Whether no mark lies in ``[low, high]`` (``closed``) or ``(low, high]``."""
    if marks is None:
        return True
    if marks is _UNTRACKED:
        return False
    i = (bisect_left if closed else bisect_right)(marks, low)
    return i == len(marks) or marks[i] > high


def _trim(marks: array[float] | None, cutoff: float) -> array[float] | None:
    if marks is None or marks is _UNTRACKED:
        return marks
    del marks[: bisect_right(marks, cutoff)]
    return marks or None


@dataclass(frozen=True)
class StoreStats:
    series: int
    samples: int
    out_of_order: int
    duplicate: int
    too_old: int
    series_limit: int
    bytes: int
    """Approximate: sample arrays and per-series containers; label strings are shared, not counted."""

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes / self.samples if self.samples else 0.0


class SeriesStore:
    def __init__(self, *, retention: float = DEFAULT_RETENTION, max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.retention = retention
        self.max_series = max_series
        self._by_name: dict[str, dict[tuple[str, ...], SeriesRef]] = {}
        # Postings, as Prometheus' index has them: per metric name, (label, value) → series keys,
        # so that {job="api"} reads the few series of one job instead of every series of the name.
        # Each posting list is a dict in creation order, so an intersection keeps that order.
        self._postings: dict[str, dict[tuple[str, str], dict[tuple[str, ...], SeriesRef]]] = {}
        self._series = 0
        self._created = 0
        self._samples = 0
        self._cutoff = -math.inf  # samples at or before it are gone or refused
        self._rejected = {"out_of_order": 0, "duplicate": 0, "too_old": 0, "series_limit": 0}
        # Handed every sample kept, in the order kept: the write-ahead log's buffer (metrics.wal).
        self.sink: Callable[[Accepted], None] | None = None

    # --- writing -------------------------------------------------------------------------------

    def append(self, labels: Mapping[str, str], t: float, value: float) -> SeriesRef | None:
        """Add one sample. Returns its series — also when this sample was refused for its
        timestamp — or None when the series is new and ``max_series`` is reached."""
        series = self._series_for(labels)
        if series is not None:
            self._add(series, t, value)
        return series

    def append_many(self, samples: Iterable[Sample]) -> int:
        """Add samples in any mix of series; returns how many were kept."""
        before = self._samples
        for labels, t, value in samples:
            series = self._series_for(labels)
            if series is not None:
                self._add(series, t, value)
        return self._samples - before

    def append_ref(self, ref: SeriesRef, t: float, value: float) -> bool:
        """Add a sample to a series already held, e.g. a stale marker; False if it was refused
        or the series has since been pruned away."""
        return ref.live and self._add(ref, t, value)

    def extend(self, labels: Mapping[str, str], timestamps: Sequence[float], values: Sequence[float]) -> int:
        """Add a time-ordered run of one series in bulk (history, benchmarks); returns how many
        were kept. Samples not after the series' last one are refused, as by ``append``."""
        series = self._series_for(labels)
        if series is None or not timestamps:
            return 0
        if not all(a < b for a, b in pairwise(timestamps)):
            return sum(self._add(series, t, v) for t, v in zip(timestamps, values, strict=True))
        floor = max(self._cutoff, series.timestamps[-1] if series.timestamps else -math.inf)
        first = bisect_right(timestamps, floor)
        self._rejected["out_of_order"] += first
        if not series.timestamps and first == len(timestamps):
            self._drop(series)
            return 0
        held = len(series.values)
        series.timestamps.extend(timestamps[first:])
        series.values.extend(values[first:])
        self._note_run(series, held)
        self._samples += len(timestamps) - first
        sink = self.sink
        if sink is not None:
            for t, v in zip(timestamps[first:], values[first:], strict=True):
                sink((series, t, v))
        return len(timestamps) - first

    @staticmethod
    def _note_run(series: SeriesRef, held: int) -> None:
        """Note the NaNs and drops among the samples after the first ``held``; the look runs in C
        and only a run that has some pays for a loop."""
        values = series.values
        total = sum(islice(values, held, None))
        lead = max(held - 1, 0)  # the last sample held is compared with the first new one
        if total - total == 0.0 and not any(
            map(gt, islice(values, lead, None), islice(values, lead + 1, None))
        ):
            return
        timestamps = series.timestamps
        previous = values[held - 1] if held else math.nan
        for i in range(held, len(values)):
            series.note(timestamps[i], values[i], previous)
            previous = values[i]

    def _series_for(self, labels: Mapping[str, str]) -> SeriesRef | None:
        name = labels.get(NAME, "")
        bucket = self._by_name.get(name)
        key = _key(labels)
        series = bucket.get(key) if bucket is not None else None
        if series is not None:
            return series
        if self._series >= self.max_series:
            self._rejected["series_limit"] += 1
            return None
        # Interned: job, instance, le and path values repeat across thousands of series.
        kept = {sys.intern(k): sys.intern(v) for k, v in labels.items() if v}
        self._created += 1
        series = SeriesRef(kept, self._created)
        key = _key(kept)
        self._by_name.setdefault(sys.intern(name), {})[key] = series
        postings = self._postings.setdefault(name, {})
        for pair in kept.items():
            if pair[0] != NAME:
                postings.setdefault(pair, {})[key] = series
        self._series += 1
        return series

    def _unpost(self, name: str, series: SeriesRef, key: tuple[str, ...]) -> None:
        postings = self._postings.get(name)
        if postings is None:
            return
        for pair in series.labels.items():
            keys = postings.get(pair)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del postings[pair]
        if not postings:
            del self._postings[name]

    def _add(self, series: SeriesRef, t: float, value: float) -> bool:
        timestamps = series.timestamps
        if not t > self._cutoff:  # also refuses a NaN time
            self._rejected["too_old"] += 1
        elif timestamps and t <= timestamps[-1]:
            self._rejected["duplicate" if t == timestamps[-1] else "out_of_order"] += 1
        else:
            values = series.values
            series.note(t, value, values[-1] if values else math.nan)
            timestamps.append(t)
            values.append(value)
            self._samples += 1
            if self.sink is not None:
                self.sink((series, t, value))
            return True
        if not timestamps:  # a new series whose only sample was refused holds nothing: drop it
            self._drop(series)
        return False

    def _drop(self, series: SeriesRef) -> None:
        name = series.labels.get(NAME, "")
        bucket = self._by_name.get(name, {})
        key = _key(series.labels)
        if bucket.pop(key, None) is not None:
            series.live = False
            self._series -= 1
            self._unpost(name, series, key)
            if not bucket:
                del self._by_name[name]

    # --- reading -------------------------------------------------------------------------------

    def select(self, matchers: Sequence[Matcher], start: float, end: float) -> list[SeriesData]:
        """Series matching every matcher that have samples in ``(start, end]``, with those samples
        (copies: the evaluator may keep them while scrapes go on)."""
        plan = matchers_plan(tuple(matchers))
        tests = plan.tests
        found: list[SeriesData] = []
        append = found.append
        # SeriesData's own constructor is a Python function; this one builds the same tuple in C.
        new_tuple = tuple.__new__
        for name in plan.names or list(self._by_name):
            bucket = self._by_name.get(name)
            if bucket is None or not all(test(name) for test in plan.name_tests):
                continue
            for series in self._candidates(name, bucket, plan.exact):
                labels = series.labels
                if tests and not all(check(labels.get(label, "")) for label, check in tests):
                    continue
                timestamps = series.timestamps
                low = bisect_right(timestamps, start)
                high = len(timestamps) if end >= timestamps[-1] else bisect_right(timestamps, end)
                if low < high:
                    nan_at, drop_at = series.nan_at, series.drop_at
                    append(
                        new_tuple(
                            SeriesData,
                            (
                                labels,
                                timestamps[low:high],
                                series.values[low:high],
                                series.nameless,
                                nan_at is None
                                or _none_in(nan_at, timestamps[low], timestamps[high - 1], closed=True),
                                # A drop at the window's first sample is from outside it: no reset in it.
                                drop_at is None
                                or _none_in(drop_at, timestamps[low], timestamps[high - 1], closed=False),
                            ),
                        )
                    )
        return found

    def _candidates(
        self, name: str, bucket: dict[tuple[str, ...], SeriesRef], exact: tuple[tuple[str, str], ...]
    ) -> Iterable[SeriesRef]:
        """The series an equality matcher with a value can narrow to through the postings (the
        other matchers are still tested on each), in creation order; every series of the name
        otherwise."""
        if not exact:
            return bucket.values()
        postings = self._postings.get(name, {})
        lists = sorted((postings.get(pair, {}) for pair in exact), key=len)
        if len(lists) == 1:
            return lists[0].values()
        smallest, rest = lists[0], lists[1:]
        return [series for key, series in smallest.items() if all(key in other for other in rest)]

    # --- bounds --------------------------------------------------------------------------------

    def prune(self, now: float) -> int:
        """Drop samples older than ``retention`` and series left empty; returns samples dropped."""
        cutoff = now - self.retention
        if cutoff <= self._cutoff:
            return 0
        self._cutoff = cutoff
        dropped = 0
        for name, bucket in list(self._by_name.items()):
            empty = []
            for key, series in bucket.items():
                timestamps = series.timestamps
                if timestamps[0] > cutoff:
                    continue
                # One bisect and one slice deletion per series, however many samples go.
                count = bisect_right(timestamps, cutoff)
                del timestamps[:count]
                del series.values[:count]
                series.nan_at = _trim(series.nan_at, cutoff)
                series.drop_at = _trim(series.drop_at, cutoff)
                dropped += count
                if not timestamps:
                    empty.append(key)
            for key in empty:
                series = bucket.pop(key)
                series.live = False
                self._unpost(name, series, key)
            self._series -= len(empty)
            if not bucket:
                del self._by_name[name]
        self._samples -= dropped
        return dropped

    async def run(self, clock: Clock, every: float = 60.0) -> None:
        """Prune every ``every`` seconds until cancelled."""
        while True:
            await clock.sleep(every)
            self.prune(clock.now().timestamp())

    def stats(self) -> StoreStats:
        size = sys.getsizeof(self._by_name)
        for bucket in self._by_name.values():
            size += sys.getsizeof(bucket)
            for key, series in bucket.items():
                size += sys.getsizeof(key) + sys.getsizeof(series) + sys.getsizeof(series.labels)
                size += sys.getsizeof(series.timestamps) + sys.getsizeof(series.values)
                # The dicts behind the read-only views, and the noted marks.
                size += sys.getsizeof(dict(series.labels))
                if series.nameless is not series.labels:
                    size += sys.getsizeof(series.nameless) + sys.getsizeof(dict(series.nameless))
                for marks in (series.nan_at, series.drop_at):
                    if marks is not None and marks is not _UNTRACKED:
                        size += sys.getsizeof(marks)
        return StoreStats(series=self._series, samples=self._samples, bytes=size, **self._rejected)


def _key(labels: Mapping[str, str]) -> tuple[str, ...]:
    # Flat (name, value, name, value, …) in name order: collision-free and a third the size of a
    # tuple of pairs; the strings are the interned ones held by the labels anyway.
    return tuple(part for item in sorted(labels.items()) if item[1] and item[0] != NAME for part in item)
