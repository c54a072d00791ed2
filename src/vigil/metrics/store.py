"""Recent samples in memory: the ``SeriesSource`` the PromQL evaluator reads.

Series are filed by metric name (``__name__`` → series), so that a selector naming its metric
looks at that metric only. A series (``heads``) keeps its newest samples plain, in ``array('d')``
(the series of one scrape share their timestamps), and older ones in compressed chunks; it notes
its NaNs and counter resets so that a window holding neither is returned as ``nan_free`` and
``monotonic``: ``rate`` and the ``*_over_time`` functions need not look at each sample for them.
Memory is bounded twice: ``retention`` drops old samples (``prune``) and ``max_series`` refuses
series beyond a count.

As in Prometheus' head block, the samples of a series come in time order: an older or repeated
timestamp is refused and counted, never inserted. Labels with an empty value are dropped, since
PromQL treats a missing label and an empty one alike.

With ``blocks`` (``metrics.blocks``), samples pruned from memory are still read from disk when a
query's window reaches them: a series' samples on disk are those before the first it holds in memory.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import lt

from vigil.engine.clock import Clock
from vigil.metrics.disk_series import DiskSeries, SeriesBlocks, with_disk
from vigil.metrics.heads import CHUNK_SAMPLES, HEAD_KEEP, NAME, SeriesRef, marks_clear, series_key
from vigil.metrics.matchers import Plan
from vigil.metrics.matchers import plan as matchers_plan
from vigil.metrics.series import Matcher, SeriesData, SeriesEdges
from vigil.metrics.series_slots import Bucket, find, remove

__all__ = ["NAME", "DiskSeries", "SeriesBlocks", "SeriesRef", "SeriesStore", "StoreStats"]

# An hour for `[1h]` ranges, plus Prometheus' 5-minute lookback for an instant selector at its start.
DEFAULT_RETENTION = 3600.0 + 300.0
DEFAULT_MAX_SERIES = 200_000

Sample = tuple[Mapping[str, str], float, float]
"""Labels (``__name__`` included), Unix time in seconds, value."""


Accepted = tuple[SeriesRef, float, float]
"""A sample the store kept: its series, time, value (what the write-ahead log is handed)."""


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


_CUT_AT = CHUNK_SAMPLES + HEAD_KEEP


class SeriesStore:
    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        max_series: int = DEFAULT_MAX_SERIES,
        blocks: SeriesBlocks | None = None,
    ) -> None:
        self.retention = retention  # in memory; beyond it only the blocks have samples
        self.max_series = max_series
        self.blocks = blocks
        self._by_name: dict[str, Bucket] = {}  # by a hash of their labels: see series_slots
        # Postings, as Prometheus' index has them: per metric name, (label, value) → its series,
        # so that {job="api"} reads the few series of one job instead of every series of the name.
        # Each posting list is a list in creation order (8 bytes a series, where a dict took ~70).
        self._postings: dict[str, dict[tuple[str, str], list[SeriesRef]]] = {}
        self._series = 0
        self._created = 0
        self._samples = 0
        self._cutoff = -math.inf  # samples at or before it are gone or refused
        self._rejected = {"out_of_order": 0, "duplicate": 0, "too_old": 0, "series_limit": 0}
        # Handed every sample kept, in the order kept: the write-ahead log's buffer (metrics.wal).
        self.sink: Callable[[Accepted], None] | None = None
        # The timeline an empty head began last: the next empty head to begin at the same time (the
        # series of one scrape, seen for the first time) shares it from its first sample on.
        self._begun: array[float] | None = None

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

    def extend(
        self,
        labels: Mapping[str, str],
        timestamps: Sequence[float],
        values: Sequence[float],
        *,
        ordered: bool = False,
    ) -> int:
        """Add a time-ordered run of one series in bulk (history; the log's replay, which made each
        time later than the one before: ``ordered``); returns how many were kept. Samples not after
        the series' last one are refused, as by ``append``."""
        series = self._series_for(labels)
        if series is None or not timestamps:
            return 0
        if not ordered and not all(map(lt, timestamps, islice(timestamps, 1, None))):
            return sum(self._add(series, t, v) for t, v in zip(timestamps, values, strict=True))
        first = bisect_right(timestamps, max(self._cutoff, series.last()))
        self._rejected["out_of_order"] += first
        if first == len(timestamps):
            if series.empty():
                self._drop(series)
            return 0
        previous = series.previous_value()
        held = len(series.values)
        series.add_run(timestamps[first:], values[first:])
        series.note_run(held, previous)
        series.cut(bulk=True)
        self._samples += len(timestamps) - first
        sink = self.sink
        if sink is not None:
            for t, v in zip(timestamps[first:], values[first:], strict=True):
                sink((series, t, v))
        return len(timestamps) - first

    def _series_for(self, labels: Mapping[str, str]) -> SeriesRef | None:
        name = labels.get(NAME, "")
        bucket = self._by_name.get(name)
        if bucket is None:
            bucket = {}  # filed under the name only once a series is made in it
        key = series_key(labels)
        slot, series = find(bucket, key)  # the series, or the free slot a new one takes
        if series is not None:
            return series
        if self._series >= self.max_series:
            self._rejected["series_limit"] += 1
            return None
        # Interned: job, instance, le and path values repeat across thousands of series.
        kept = {sys.intern(k): sys.intern(v) for k, v in labels.items() if v}
        self._created += 1
        floor = self.blocks.last_time(name, key) if self.blocks is not None else -math.inf
        series = SeriesRef(kept, self._created, floor)
        self._by_name.setdefault(sys.intern(name), bucket)[slot] = series
        postings = self._postings.setdefault(name, {})
        for pair in kept.items():
            if pair[0] != NAME:
                postings.setdefault(pair, []).append(series)
        self._series += 1
        return series

    def _unpost(self, name: str, gone: list[SeriesRef]) -> None:
        """Take series of ``name`` no longer live out of its posting lists, each list once."""
        postings = self._postings.get(name)
        if postings is None:
            return
        for pair in {pair for series in gone for pair in series.nameless.items()}:
            posted = postings.get(pair)
            if posted is not None:
                kept = [series for series in posted if series.live]
                if kept:
                    postings[pair] = kept
                else:
                    del postings[pair]
        if not postings:
            del self._postings[name]

    def _add(self, series: SeriesRef, t: float, value: float) -> bool:
        values = series.values
        held = len(values)
        last = series.times[held - 1] if held else series.last()
        if not t > self._cutoff:  # also refuses a NaN time
            self._rejected["too_old"] += 1
        elif t <= last:
            self._rejected["duplicate" if t == last else "out_of_order"] += 1
        else:
            series.note(t, value, values[-1] if held else series.previous_value())
            if not held:
                begun = self._begun
                if begun is not None and begun[0] == t:
                    series.times = begun
                series.add(t, value)
                self._begun = series.times
            else:
                series.add(t, value)
            if held + 1 >= _CUT_AT:
                series.cut()
            self._samples += 1
            if self.sink is not None:
                self.sink((series, t, value))
            return True
        if series.empty():  # a new series whose only sample was refused holds nothing: drop it
            self._drop(series)
        return False

    def _drop(self, series: SeriesRef) -> None:
        name = series.name
        bucket = self._by_name.get(name, {})
        if remove(bucket, series):
            series.live = False
            self._series -= 1
            self._unpost(name, [series])
            if not bucket:
                del self._by_name[name]

    # --- reading -------------------------------------------------------------------------------

    def select(
        self, matchers: Sequence[Matcher], start: float, end: float, *, named: bool = True
    ) -> list[SeriesData]:
        """Series matching every matcher that have samples in ``(start, end]``, with those samples
        (copies: the evaluator may keep them while scrapes go on). Not ``named``: each series'
        labels come without ``__name__`` (for a function that drops it), so that the series need
        not keep a second dict of labels with it."""
        plan = matchers_plan(tuple(matchers))
        disk = self.blocks is not None and start < self.blocks.newest()
        named = named or disk  # the samples on disk are joined to memory's by their full labels
        found: list[SeriesData] = []
        append = found.append
        for series in self._matching(plan):
            nameless = series.nameless
            timestamps, held = series.times, len(series.values)
            if held and (timestamps[0] <= start or not series.chunks):
                # The head alone covers the window: the common case, sliced here without a call.
                low = bisect_right(timestamps, start, 0, held)
                high = held if end >= timestamps[held - 1] else bisect_right(timestamps, end, 0, held)
                times, values = timestamps[low:high], series.values[low:high]
            else:
                times, values = series.window(start, end)
            if times:
                append(_data(series, series.labels if named else nameless, times, values))
        if disk and self.blocks is not None:
            return with_disk(found, self.blocks.read(matchers, start, end), self._held)
        return found

    def select_edges(
        self, matchers: Sequence[Matcher], start: float, end: float
    ) -> list[SeriesData | SeriesEdges]:
        """As ``select`` not ``named``, but a window in memory that holds no NaN and no drop comes as
        its edges, neither copied nor (where its chunks are whole in it) decoded."""
        if self.blocks is not None and start < self.blocks.newest():
            return list(self.select(matchers, start, end, named=False))
        found: list[SeriesData | SeriesEdges] = []
        append = found.append
        for series in self._matching(matchers_plan(tuple(matchers))):
            edges = series.edges(start, end)
            if edges is None:
                continue
            count, first_t, first_v, last_t, last_v = edges
            nameless = series.nameless
            if all(_vouched(series, first_t, last_t)):  # no NaN and no drop
                append(tuple.__new__(SeriesEdges, (nameless, count, first_t, first_v, last_t, last_v)))
            else:
                times, values = series.window(start, end)
                append(_data(series, nameless, times, values))
        return found

    def _held(self, name: str, key: tuple[str, ...]) -> SeriesRef | None:
        bucket = self._by_name.get(name)
        return find(bucket, key)[1] if bucket is not None else None

    def _matching(self, plan: Plan) -> Iterator[SeriesRef]:
        tests = plan.tests
        for name in plan.names or list(self._by_name):
            bucket = self._by_name.get(name)
            if bucket is None or not all(test(name) for test in plan.name_tests):
                continue
            for series in self._candidates(name, bucket, plan.exact):
                if not tests or all(check(series.nameless.get(label, "")) for label, check in tests):
                    yield series

    def _candidates(
        self, name: str, bucket: Bucket, exact: tuple[tuple[str, str], ...]
    ) -> Iterable[SeriesRef]:
        """The series an equality matcher with a value can narrow to through the postings (the
        other matchers are still tested on each), in creation order; every series of the name
        otherwise."""
        if not exact:
            return bucket.values()
        postings = self._postings.get(name, {})
        if len(exact) == 1:
            return postings.get(exact[0], [])
        # The shortest list, each of its series tested for the other pairs: a few dict look-ups,
        # where intersecting would walk the long lists too.
        smallest = min((postings.get(pair, []) for pair in exact), key=len)
        return [series for series in smallest if all(series.nameless.get(k) == v for k, v in exact)]

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
            for series in bucket.values():
                if series.first() > cutoff:
                    continue
                dropped += series.trim(cutoff)
                if series.empty():
                    empty.append(series)
            gone = [series for series in empty if remove(bucket, series)]
            for series in gone:
                series.live = False
            if gone:
                self._unpost(name, gone)
            self._series -= len(gone)
            if not bucket:
                del self._by_name[name]
        self._samples -= dropped
        return dropped

    def held(self) -> Iterator[SeriesRef]:
        """Every series held in memory (for writing its closed chunks to a block)."""
        for bucket in list(self._by_name.values()):
            yield from list(bucket.values())

    async def run(self, clock: Clock, every: float = 60.0) -> None:
        """Prune every ``every`` seconds until cancelled."""
        while True:
            await clock.sleep(every)
            self.prune(clock.now().timestamp())

    def stats(self) -> StoreStats:
        size = sys.getsizeof(self._by_name)
        timelines: dict[int, int] = {}  # the heads' times, each counted once however many share it
        for bucket in self._by_name.values():
            size += sys.getsizeof(bucket)
            for key, series in bucket.items():
                size += sys.getsizeof(key) + sys.getsizeof(series) + series.size()
                timelines[id(series.times)] = sys.getsizeof(series.times)
        for postings in self._postings.values():
            size += sys.getsizeof(postings) + sum(sys.getsizeof(posted) for posted in postings.values())
        size += sum(timelines.values())
        return StoreStats(series=self._series, samples=self._samples, bytes=size, **self._rejected)


def _data(
    series: SeriesRef, labels: Mapping[str, str], times: array[float], values: array[float]
) -> SeriesData:
    """``SeriesData`` of a window of ``series``, vouched NaN-free or monotonic where its marks say so."""
    nan_free, monotonic = _vouched(series, times[0], times[-1])
    # SeriesData's own constructor is a Python function; tuple.__new__ builds the same tuple in C.
    return tuple.__new__(SeriesData, (labels, times, values, series.nameless, nan_free, monotonic))


def _vouched(series: SeriesRef, first: float, last: float) -> tuple[bool, bool]:
    """Whether ``series``' samples from ``first`` to ``last`` hold no NaN, and no drop."""
    nan_at, drop_at = series.nan_at, series.drop_at
    return (
        nan_at is None or marks_clear(nan_at, first, last, closed=True),
        # A drop at the window's first sample is from outside it: no reset in it.
        drop_at is None or marks_clear(drop_at, first, last, closed=False),
    )
