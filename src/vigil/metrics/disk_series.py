"""What the series store reads from the blocks on disk (``metrics.blocks.BlockSet``): a module of
its own, so that the blocks need not import the store."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from vigil.metrics.heads import NAME, SeriesRef, series_key
from vigil.metrics.series import Matcher, SeriesData

# A series read from disk: labels, timestamps, values.
DiskSeries = tuple[Mapping[str, str], "array[float]", "array[float]"]


class SeriesBlocks(Protocol):
    """The blocks on disk as the store reads them (``metrics.blocks.BlockSet``)."""

    def newest(self) -> float:
        """The last time any block holds; -inf without blocks."""

    def last_time(self, name: str, key: tuple[str, ...]) -> float:
        """The newest time the blocks hold for the series ``name``/``key``; -inf if none known."""

    def read(self, matchers: Sequence[Matcher], start: float, end: float) -> list[DiskSeries]:
        """Series matching every matcher with their samples on disk in ``(start, end]``."""


def with_disk(
    found: list[SeriesData], disk: list[DiskSeries], held: Callable[[str, tuple[str, ...]], SeriesRef | None]
) -> list[SeriesData]:
    """``found`` in memory with the samples on disk before each series' first in memory prepended,
    and the series only on disk after them; ``held`` finds a series in memory by name and key."""
    if not disk:
        return found
    position = {
        (series.labels.get(NAME, ""), *series_key(series.labels)): i for i, series in enumerate(found)
    }
    for labels, disk_times, disk_values in disk:
        name = labels.get(NAME, "")
        key = series_key(labels)
        ref = held(name, key)
        # Memory holds a suffix of each series: from disk only what comes before it. Whether
        # those samples are NaN-free or monotonic is not known (False).
        upto = bisect_left(disk_times, ref.first()) if ref is not None else len(disk_times)
        if not upto:
            continue
        times, values = disk_times[:upto], disk_values[:upto]
        i = position.get((name, *key))
        if i is None:
            position[(name, *key)] = len(found)
            found.append(SeriesData(labels, times, values, ref.nameless if ref else None))
        else:
            mem = found[i]
            times.extend(mem.timestamps)
            values.extend(array("d", mem.values))  # memory's may be float32 (heads.SeriesRef)
            found[i] = SeriesData(mem.labels, times, values, mem.nameless)
    return found
