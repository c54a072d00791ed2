"""One stored series: its open head as plain arrays and its closed chunks compressed.

New samples go to the head: its values in an array of its own, its times in a *timeline*, an
``array('d')`` whose first ``len(values)`` items are the head's times. Once the head's oldest
``CHUNK_SAMPLES`` samples are older than ``HEAD_SPAN`` before its newest (or it holds more than
``HEAD_MAX``), they are closed into a chunk (``chunks.encode``, ~2 bytes a sample instead of 16).
The newest fifteen minutes stay plain, so that the windows rules mostly read (``[5m]``, ``[10m]``,
the 5-minute lookback of an instant selector) are sliced from the head without decoding anything;
a longer window (an ``[1h]`` rule's, a dashboard's, a range query over hours) decodes only the
chunks it reaches, newest first, through the bounded cache of chunks decoded lately
(``chunks.decode_shared``), so that a rule reading the same hour every cycle decodes it once.
Keeping the whole hour plain would cost 16 bytes a sample for every series, read or not. ``rate``,
``increase`` and ``delta`` read less still (``edges``): a chunk's header holds its count and its
first and last samples, so only a chunk the window cuts is decoded.

The series of one scrape share one timeline of times, and a head keeps its values as float32 where
that is exact (``head_arrays``): 4 to 8 bytes a sample in all, with nothing to decode.

Each series also notes, as it is written, the few samples that make evaluation slow: NaNs (stale
markers among them) and drops (a value below the one before it: a counter reset). A series with
more than ``MAX_MARKS`` of either stops noting them and is always looked at.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence

from vigil.metrics import chunks as codec
from vigil.metrics.head_arrays import fits, narrowed, shared_times, wide

NAME = "__name__"
# Samples a closed chunk holds, and the newest samples the head keeps plain after a cut (chosen by
# bench/rules.py: memory against the rule cycle, see the module docstring).
CHUNK_SAMPLES = 120
HEAD_KEEP = 24
# The most samples a chunk a compaction closes may hold with the one before it, joined.
MERGED_MAX = 2 * CHUNK_SAMPLES
# The span the head keeps plain beyond that: the rules' `[10m]` windows and the 5-minute lookback
# at their start are sliced as they are, not decoded every cycle. A series scraped so often that
# the span holds more than HEAD_MAX samples keeps HEAD_MAX (memory bounded per series).
HEAD_SPAN = 600.0 + 300.0
HEAD_MAX = 1024
# Resets and NaNs noted per series, beyond which it is taken to have them anywhere.
MAX_MARKS = 8
# Shared, never written: "too many marks to note".
UNTRACKED = array("d")


def series_key(labels: Mapping[str, str]) -> tuple[str, ...]:
    """How the store and the blocks key a series: flat (name, value, …) of its labels but
    ``__name__``, in name order (collision-free, and a third the size of a tuple of pairs; the
    strings are the interned ones the labels hold anyway). Compiled here for the append path."""
    return tuple(part for item in sorted(labels.items()) if item[1] and item[0] != NAME for part in item)


class SeriesRef:
    """One stored series. Opaque outside the store: a scraper holds it to mark the series stale."""

    __slots__ = (
        "chunks",
        "drop_at",
        "floor",
        "live",
        "name",
        "nameless",
        "nan_at",
        "persisted",
        "seq",
        "times",
        "values",
    )

    def __init__(self, labels: Mapping[str, str], seq: int = 0, floor: float = -math.inf) -> None:
        # The evaluator gets these labels as they are, without a copy per query (typed as Mapping
        # there: never changed). Most functions drop __name__ (rate, the *_over_time family,
        # aggregations): the labels without it are kept, and those with it (``labels``) are made
        # for each query that keeps the name. Plain dicts: a read-only view in front of each would
        # cost 56 bytes a series.
        self.name = labels.get(NAME, "")
        self.nameless: dict[str, str] = {k: v for k, v in labels.items() if k != NAME}
        # The open head: its times are the first len(values) of ``times``, which other heads may share.
        self.times = array("d")
        self.values = array("f")  # float32 while each value fits, see the module's docstring
        # Closed, oldest first. A tuple: a series holds one to a few, and a list would cost 40 bytes
        # more a series (its spare room); a new chunk is a new tuple, a few times an hour.
        self.chunks: tuple[bytes, ...] = ()
        self.persisted = 0  # how many of the oldest chunks a block on disk holds as well
        self.floor = floor  # samples at or before it are refused: the newest time a block holds
        self.live = True
        self.seq = seq  # creation order: ties (topk) resolve in it, as in Prometheus 2.42
        # Times of NaN samples and of drops (None: none; UNTRACKED: more than MAX_MARKS).
        self.nan_at: array[float] | None = None
        self.drop_at: array[float] | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The series' labels, ``__name__`` included: a new dict each time, not kept (the rules
        that keep the name read 20,000 series a cycle on ``bench/rules.py``; their dicts, kept,
        held 3.5 MiB), or ``nameless`` itself for a series without a name."""
        if not self.name:
            return self.nameless
        return {NAME: self.name, **self.nameless}

    @property
    def timestamps(self) -> array[float]:
        """A copy of the head's times (the hot paths read ``times`` up to ``len(values)``)."""
        return self.times[: len(self.values)]

    def last(self) -> float:
        """The newest time held or persisted; a new sample must come after it."""
        held = len(self.values)
        if held:
            return self.times[held - 1]
        if self.chunks:
            return codec.bounds(self.chunks[-1])[1]
        return self.floor

    def first(self) -> float:
        """The oldest time held in memory (inf when nothing is)."""
        if self.chunks:
            return codec.bounds(self.chunks[0])[0]
        return self.times[0] if self.values else math.inf

    def empty(self) -> bool:
        return not self.values and not self.chunks

    def add(self, t: float, value: float) -> None:
        """Append a sample after the head's last (the store has checked its time)."""
        times, held = self.times, len(self.values)
        if len(times) == held:
            times.append(t)
        elif times[held] != t:
            # Another head sharing the timeline went on at another time: leave the share.
            self.times = times = times[:held]
            times.append(t)
        values = self.values
        if values.typecode == "f" and not fits(value):
            self.values = values = wide(values)
        values.append(value)

    def add_run(self, timestamps: Sequence[float], values: Sequence[float]) -> None:
        """Append a run of samples after the head's last, in bulk."""
        held = len(self.values)
        if len(self.times) != held:
            self.times = self.times[:held]
        self.times.extend(timestamps)
        added = wide(values)
        head = self.values
        if head.typecode == "f":
            if not held:  # a new head takes doubles: the cut that follows narrows what it keeps
                self.values = added[:] if added is values else added
                return
            narrow = narrowed(added)
            if narrow is not added:  # float32 holds each value
                head.extend(narrow)
                return
            self.values = head = wide(head)
        head.extend(added)

    def note(self, t: float, value: float, previous: float) -> None:
        """Note the sample at ``t`` if it is NaN or lower than ``previous``."""
        if value != value:  # noqa: PLR0124 - NaN is the only value unequal to itself
            self.nan_at = _mark(self.nan_at, t)
        elif value < previous:
            self.drop_at = _mark(self.drop_at, t)

    def note_run(self, held: int, previous: float) -> None:
        """Note the NaNs and drops among the head's samples after the first ``held`` (``previous``
        is the value before them), as ``note`` would one by one. One pass over a list of the values:
        compiled, it compares unboxed doubles (an ``array`` read item by item would box each)."""
        times = self.times
        before = previous
        for i, value in enumerate(self.values[held:].tolist(), held):
            if value != value:  # noqa: PLR0124 - NaN is the only value unequal to itself
                if self.nan_at is not UNTRACKED:
                    self.nan_at = _mark(self.nan_at, times[i])
            elif value < before and self.drop_at is not UNTRACKED:
                self.drop_at = _mark(self.drop_at, times[i])
            before = value

    def previous_value(self) -> float:
        if self.values:
            return self.values[-1]
        if self.chunks:
            return codec.decode(self.chunks[-1])[1][-1]
        return math.nan

    def cut(self, *, bulk: bool = False) -> None:
        """Close the head's oldest samples into chunks while it holds more than it keeps. After a
        run written in ``bulk`` (history, a backfill) all but ``HEAD_SPAN`` go, since no sample may
        follow soon: in chunks of ``CHUNK_SAMPLES``, the last one taking the rest (fewer, larger
        chunks compress better), if at least a quarter of ``CHUNK_SAMPLES`` would go."""
        if bulk:
            times, held = self.times, len(self.values)
            keep = max(
                HEAD_KEEP, min(HEAD_MAX, held - bisect_left(times, times[held - 1] - HEAD_SPAN, 0, held))
            )
            closing = held - keep
            if closing >= CHUNK_SAMPLES // 4:
                for _ in range(max(closing // CHUNK_SAMPLES, 1) - 1):
                    self.close(self.times[CHUNK_SAMPLES - 1])
                self.close(self.times[len(self.values) - keep - 1])
            self.values = narrowed(self.values)
            return
        closed = False
        while (held := len(self.values)) >= CHUNK_SAMPLES + HEAD_KEEP and (
            held >= CHUNK_SAMPLES + HEAD_MAX
            or self.times[CHUNK_SAMPLES - 1] < self.times[held - 1] - HEAD_SPAN
        ):
            self.close(self.times[CHUNK_SAMPLES - 1])
            closed = True
        if closed:  # a head widened by a value now closed is narrow again
            self.values = narrowed(self.values)

    def close(self, upto: float = math.inf, *, merge: bool = False) -> None:
        """Close the head's samples up to ``upto`` (all by default) into a chunk, so that a block
        can hold them. With ``merge`` (compaction), they join the newest chunk instead when no block
        holds it yet and both hold at most ``MERGED_MAX`` samples: one chunk packs better than two."""
        times, held = self.times, len(self.values)
        count = held if upto >= math.inf else bisect_right(times, upto, 0, held)
        if count:
            chunks = self.chunks
            closed_times: Sequence[float] = times[:count]
            closed_values: Sequence[float] = wide(self.values[:count])
            if merge and len(chunks) > self.persisted and codec.count(chunks[-1]) + count <= MERGED_MAX:
                ts, vs = codec.decode(chunks[-1])
                ts.extend(closed_times)
                vs.extend(closed_values)
                closed_times, closed_values = ts, vs
                chunks = chunks[:-1]
            self.chunks = (*chunks, codec.encode(closed_times, closed_values))
            # New arrays of the samples left, not the old ones shortened in place: a long run written
            # at once leaves no large block of memory mostly unused behind each series (and a
            # timeline is never changed but at its end).
            self.times = shared_times(times[count:held])
            self.values = self.values[count:]

    def window(self, start: float, end: float) -> tuple[array[float], array[float]]:
        """Copies of the samples in ``(start, end]``, decoding only the chunks the window reaches."""
        timestamps, values = self.times, self.values
        held = len(values)
        if not self.chunks or (held and timestamps[0] <= start):
            low = bisect_right(timestamps, start, 0, held)
            high = held if not held or end >= timestamps[held - 1] else bisect_right(timestamps, end, 0, held)
            return timestamps[low:high], values[low:high]
        out_t, out_v = array("d"), array("d")
        for chunk in self.chunks[self._reached(start) :]:
            first, last = codec.bounds(chunk)
            if first > end:
                break
            ts, vs = codec.decode_shared(chunk)
            low = bisect_right(ts, start)
            high = len(ts) if end >= last else bisect_right(ts, end)
            out_t.extend(ts[low:high])
            out_v.extend(vs[low:high])
        if held and timestamps[0] <= end:
            high = held if end >= timestamps[held - 1] else bisect_right(timestamps, end, 0, held)
            out_t.extend(timestamps[:high])
            out_v.extend(wide(values[:high]))
        return out_t, out_v

    def _reached(self, start: float) -> int:
        """The first of the chunks with samples after ``start`` (walked back from the newest)."""
        reached = len(self.chunks)
        while reached > 0 and codec.bounds(self.chunks[reached - 1])[1] > start:
            reached -= 1
        return reached

    def edges(self, start: float, end: float) -> tuple[int, float, float, float, float] | None:
        """How many samples ``(start, end]`` holds, the first (time, value) and the last, without
        copying them; None when it holds none. A chunk the window holds whole is read from its
        header; only one the window cuts is decoded (through ``decode_shared``)."""
        timestamps, values = self.times, self.values
        held = len(values)
        count = 0
        first_t = first_v = last_t = last_v = math.nan
        chunks = self.chunks
        if chunks and not (held and timestamps[0] <= start):
            for i in range(self._reached(start), len(chunks)):
                chunk = chunks[i]
                n, c_first, c_first_v, c_last, c_last_v = codec.edges(chunk)
                if c_first > end:
                    break
                if c_first <= start or c_last > end:  # cut by the window: decoded
                    ts, vs = codec.decode_shared(chunk)
                    low = bisect_right(ts, start)
                    high = n if end >= c_last else bisect_right(ts, end)
                    n = high - low
                    if n <= 0:
                        continue
                    c_first, c_first_v, c_last, c_last_v = ts[low], vs[low], ts[high - 1], vs[high - 1]
                if not count:
                    first_t, first_v = c_first, c_first_v
                last_t, last_v = c_last, c_last_v
                count += n
        if held and timestamps[0] <= end:
            low = bisect_right(timestamps, start, 0, held)
            high = held if end >= timestamps[held - 1] else bisect_right(timestamps, end, 0, held)
            if high > low:
                if not count:
                    first_t, first_v = timestamps[low], values[low]
                last_t, last_v = timestamps[high - 1], values[high - 1]
                count += high - low
        return (count, first_t, first_v, last_t, last_v) if count else None

    def trim(self, cutoff: float) -> int:
        """Drop the samples at or before ``cutoff``; returns how many went."""
        dropped = gone = 0
        chunks = self.chunks
        while gone < len(chunks) and codec.bounds(chunks[gone])[1] <= cutoff:
            dropped += codec.count(chunks[gone])
            gone += 1
        if gone:
            chunks = chunks[gone:]
            self.persisted = max(self.persisted - gone, 0)
        if chunks and codec.bounds(chunks[0])[0] <= cutoff:
            # One chunk straddles the cutoff: it is written again without its older samples.
            ts, vs = codec.decode(chunks[0])
            count = bisect_right(ts, cutoff)
            chunks = (codec.encode(ts[count:], vs[count:]), *chunks[1:])
            dropped += count
        self.chunks = chunks
        held = len(self.values)
        if held and self.times[0] <= cutoff:
            count = bisect_right(self.times, cutoff, 0, held)
            self.times = shared_times(self.times[count:held])
            del self.values[:count]
            dropped += count
        self.nan_at = _trim(self.nan_at, cutoff)
        self.drop_at = _trim(self.drop_at, cutoff)
        return dropped

    def size(self) -> int:
        """Bytes held for the labels' dicts, values, chunks and marks; the head's times are counted
        by the store, once for the heads that share them (label strings are shared, not counted)."""
        size = sys.getsizeof(self.values) + sys.getsizeof(self.chunks) + sys.getsizeof(self.nameless)
        size += sum(sys.getsizeof(chunk) for chunk in self.chunks)
        for marks in (self.nan_at, self.drop_at):
            if marks is not None and marks is not UNTRACKED:
                size += sys.getsizeof(marks)
        return size


def marks_clear(marks: array[float] | None, low: float, high: float, *, closed: bool) -> bool:
    """Whether no mark lies in ``[low, high]`` (``closed``) or ``(low, high]``."""
    if marks is None:
        return True
    if marks is UNTRACKED:
        return False
    i = (bisect_left if closed else bisect_right)(marks, low)
    return i == len(marks) or marks[i] > high


def _mark(marks: array[float] | None, t: float) -> array[float]:
    if marks is None:
        return array("d", (t,))
    if marks is not UNTRACKED:
        if len(marks) >= MAX_MARKS:
            return UNTRACKED
        marks.append(t)
    return marks


def _trim(marks: array[float] | None, cutoff: float) -> array[float] | None:
    if marks is None or marks is UNTRACKED:
        return marks
    del marks[: bisect_right(marks, cutoff)]
    return marks or None
