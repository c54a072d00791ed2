"""What the PromQL evaluator reads: series with their labels and samples, selected by matchers.

``SeriesSource`` is the one interface between the series store (samples from check results
and scrapes, held in memory) and query evaluation, so each can be built and tested alone.
Times are Unix seconds as floats, as Prometheus' HTTP API speaks them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

# Prometheus' stale marker: a NaN with its own bit pattern (``value.StaleNaN`` in Prometheus), written
# when a series vanishes from a scrape so that instant queries stop returning it at once instead of
# five minutes later. A target may itself expose NaN; only these exact bits mean "gone".
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
_STALE_BITS = struct.pack("<d", STALE_NAN)


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """A label matcher; regexes are fully anchored, as in Prometheus."""

    name: str
    op: MatchOp
    value: str


class SeriesData(NamedTuple):
    """One series: its labels (``__name__`` included) and its samples in time order.

    A source may say more about the samples it returns, so that evaluation can skip a look at each
    of them: ``nameless`` is ``labels`` without ``__name__``, shared between queries; ``nan_free``
    that no value is NaN (so none is a stale marker); ``monotonic`` that no value is lower than the
    one before it (so a counter did not reset). False only means "not known".
    A tuple, not a dataclass: a rule cycle builds hundreds of thousands of them.
    """

    labels: Mapping[str, str]
    timestamps: Sequence[float]
    values: Sequence[float]
    nameless: Mapping[str, str] | None = None
    nan_free: bool = False
    monotonic: bool = False


class SeriesEdges(NamedTuple):
    """A series' window told by its edges alone: how many samples it holds, the first and the last.
    A source answers this only for a window it vouches holds no NaN and no drop, which is all that
    ``rate``, ``increase`` and ``delta`` need of it."""

    nameless: Mapping[str, str]
    samples: int
    first_time: float
    first_value: float
    last_time: float
    last_value: float


class SeriesSource(Protocol):
    def select(
        self, matchers: Sequence[Matcher], start: float, end: float, *, named: bool = True
    ) -> Iterable[SeriesData]:
        """Series matching every matcher, with only their samples in ``(start, end]``. When not
        ``named``, a source may leave ``__name__`` out of each series' labels (the caller drops it)."""

    def select_edges(
        self, matchers: Sequence[Matcher], start: float, end: float
    ) -> Iterable[SeriesData | SeriesEdges]:
        """As ``select`` not ``named``; a series whose window holds no NaN and no drop may come as
        its ``SeriesEdges`` instead (a source that keeps no such marks answers ``select``'s)."""


def is_stale(value: float) -> bool:
    """Whether ``value`` is a stale marker (not merely NaN). Arithmetic on it loses the bits, so test
    samples as they come from the store."""
    # Only a NaN needs its bits looked at: the common case costs one test.
    return math.isnan(value) and struct.pack("<d", value) == _STALE_BITS
