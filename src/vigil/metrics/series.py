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
from typing import Protocol

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


@dataclass(frozen=True)
class SeriesData:
    """One series: its labels (``__name__`` included) and its samples in time order."""

    labels: Mapping[str, str]
    timestamps: Sequence[float]
    values: Sequence[float]


class SeriesSource(Protocol):
    def select(self, matchers: Sequence[Matcher], start: float, end: float) -> Iterable[SeriesData]:
        """Series matching every matcher, with only their samples in ``(start, end]``."""


def is_stale(value: float) -> bool:
    """Whether ``value`` is a stale marker (not merely NaN). Arithmetic on it loses the bits, so test
    samples as they come from the store."""
    # Only a NaN needs its bits looked at: the common case costs one test.
    return math.isnan(value) and struct.pack("<d", value) == _STALE_BITS
