"""Where the store files each series of a metric name: by a 30-bit hash of its labels.

A series' labels are already held once, as its ``nameless`` dict; filing it under the tuple of
those labels (``heads.series_key``) held them a second time, about 94 bytes a series. The store
files it under a number instead: the tuple's hash cut to 30 bits, which Python keeps in 28 bytes.
The tuple is made to look a series up and let go of at once.

Two label sets may hash alike. A set whose slot is taken by another takes the next free number
(linear probing, as in the hash tables of textbooks): a look-up walks from the hash until it finds
the series whose labels are those asked for, or a free number. Taking a series out moves the
series filed after it in the same run of numbers back to where their own walk now ends, so that
no walk stops short of its series. With 30 bits, a run longer than one is rare (at 100,000 series,
about 10 of them hold two), and the walk costs a dict look-up a step.

Compiled with the rest of the store (see the Makefile's list).
"""

from __future__ import annotations

from vigil.metrics.heads import SeriesRef, series_key

Bucket = dict[int, SeriesRef]
"""The series of one metric name, by slot."""

_MASK = (1 << 30) - 1  # below 2**30 an int takes 28 bytes; above, 32 to 36


def find(bucket: Bucket, key: tuple[str, ...]) -> tuple[int, SeriesRef | None]:
    """The slot of the series ``key`` names and that series, or the free slot it would take and None."""
    slot = hash(key) & _MASK
    while True:
        found = bucket.get(slot)
        if found is None or holds(found, key):
            return slot, found
        slot += 1


def holds(series: SeriesRef, key: tuple[str, ...]) -> bool:
    """Whether ``series`` has exactly the labels ``key`` names (``__name__`` aside)."""
    nameless = series.nameless
    if len(nameless) * 2 != len(key):
        return False
    return all(nameless.get(key[i]) == key[i + 1] for i in range(0, len(key), 2))


def remove(bucket: Bucket, series: SeriesRef) -> bool:
    """Take ``series`` out of ``bucket``; False if it was not there."""
    slot, found = find(bucket, series_key(series.nameless))
    if found is not series:
        return False
    del bucket[slot]
    # The series filed after it in the same run may have walked past its slot: each is filed
    # again from its own hash, which now ends at the first free slot on its way.
    slot += 1
    while (moved := bucket.pop(slot, None)) is not None:
        bucket[find(bucket, series_key(moved.nameless))[0]] = moved
        slot += 1
    return True
