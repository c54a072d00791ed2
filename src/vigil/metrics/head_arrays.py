"""The arrays a series' head keeps (``heads.SeriesRef``): its times, shared among the series of one
scrape, and its values, as float32 where that is exact.

The series of one scrape are written at the same instants, so their heads share one timeline: a
head that closes a chunk looks up the times it keeps among the timelines closed lately
(``shared_times``), and takes an equal one instead of its own copy. A timeline only ever grows at
its end: a head at that end appends its new time to it; a head behind the end, whose next time is
the one the timeline holds there, merely appends its value; any other head copies its own times out
(it has left the share) and goes on alone until its next cut. This halves the memory of the heads of
scraped series, with nothing to decode: the rules still slice the head directly.

A head's values take 4 bytes a sample where float32 holds each exactly (integers up to 2**24,
halves, quarters …: most counters, gauges and bucket counts), in an ``array('f')``; a value it
would change (a NaN, whose bits a stale marker needs, a fraction it cannot hold, a counter past
2**24) widens the head to ``array('d')`` until its next cut. Either reads back the same doubles.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

# Timelines of heads closed lately, by (first time, last time, length) when filed: bounded (emptied
# when full), so that a timeline no head uses any more is soon let go.
_TIMELINES: dict[tuple[float, float, int], array[float]] = {}
MAX_TIMELINES = 4096


_NARROW = array("f", [0.0])  # a scratch float32, to test whether one holds a value exactly


def fits(value: float) -> bool:
    """Whether float32 holds ``value`` exactly (never a NaN: its bits could change)."""
    _NARROW[0] = value
    return _NARROW[0] == value


def narrowed(values: array[float]) -> array[float]:
    """``values`` as float32 if that holds each exactly, else as they are. (Through lists: an
    array made from an array of another type converts item by item, twice as slowly.)"""
    if values.typecode == "f":
        return values
    doubles = values.tolist()
    narrow = array("f", doubles)
    return narrow if narrow.tolist() == doubles else values


def wide(values: Sequence[float]) -> array[float]:
    """``values`` as doubles (``values`` itself when it is an ``array('d')``), to extend one with."""
    if isinstance(values, array):
        if values.typecode == "d":
            return values
        values = values.tolist()
    out = array("d")
    out.fromlist(list(values))
    return out


def shared_times(times: array[float]) -> array[float]:
    """``times`` (a new array no head holds yet), or a timeline filed lately whose first items are
    the same times, for a head to share. A timeline filed may have grown since: only its first
    ``len(times)`` items are compared."""
    count = len(times)
    if not count:
        return times
    key = (times[0], times[count - 1], count)
    found = _TIMELINES.get(key)
    if found is not None and len(found) >= count and found[:count] == times:
        return found
    if len(_TIMELINES) >= MAX_TIMELINES:
        _TIMELINES.clear()
    _TIMELINES[key] = times
    return times
