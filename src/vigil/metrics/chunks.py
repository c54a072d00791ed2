"""A closed chunk of one series: its samples compressed into one ``bytes``, as memory and blocks hold it.

Layout: a header ``<HBddd`` (count, timestamp kind, first time, last time, step), then for irregular
timestamps their compressed bytes (a ``<I`` length first), then the compressed values.
Timestamps on a regular grid (``first + i * step`` exactly, as scrapes on a fixed interval and
backfills give) take the header alone; any others are stored whole, as values are.

The codec was chosen by measurement (``bench/chunk_codec.py`` on ``bench/rules.py``'s data, 120
samples a chunk): zlib over the doubles with their bytes transposed (all first bytes, then all
second bytes, …) takes 1.64 bytes a sample against 2.10 for zlib over the plain doubles and 1.49 for
Gorilla-style XOR against the previous value before the same transposition; but XOR has to be
computed a sample at a time in Python, where transposing and zlib run in C: decoding a chunk's
values costs one ``zlib.decompress`` and eight slice assignments, about 10 µs for 120 samples. A value's sign and
exponent bytes repeat from sample to sample and integer-valued counters end in zero bytes, which the
transposition lines up for zlib. Bits are exact: NaNs (stale markers among them), ±inf and -0.0
come back as they went in.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Sequence

HEADER = struct.Struct("<HBddd")
LENGTH = struct.Struct("<I")
REGULAR = 0
IRREGULAR = 1
LEVEL = 6
MAX_SAMPLES = 65_535  # the count is two bytes
# Decoded timestamps by their encoding: the series of one scrape share their times, so a window over
# many of them decodes those once and copies them (in C) for each. Bounded; emptied when full.
_TIMES: dict[object, array[float]] = {}
MAX_TIMES = 4096


def encode(timestamps: Sequence[float], values: Sequence[float]) -> bytes:
    """One chunk of ``timestamps`` (increasing) and their ``values``; at least one sample."""
    count = len(timestamps)
    if not 0 < count <= MAX_SAMPLES or len(values) != count:
        raise ValueError(f"a chunk holds 1 to {MAX_SAMPLES} samples with a value each, not {count}")
    first = timestamps[0]
    last = timestamps[count - 1]
    step = (timestamps[1] - first) if count > 1 else 0.0
    packed_values = pack(values)
    if _regular(timestamps, first, step):
        return HEADER.pack(count, REGULAR, first, last, step) + packed_values
    packed_times = pack(timestamps)
    return (
        HEADER.pack(count, IRREGULAR, first, last, step)
        + LENGTH.pack(len(packed_times))
        + packed_times
        + packed_values
    )


def decode(chunk: bytes) -> tuple[array[float], array[float]]:
    """The timestamps and values of ``chunk``, as new arrays the caller may keep."""
    count, kind, first, _last, step = HEADER.unpack_from(chunk)
    at = HEADER.size
    if kind == REGULAR:
        key: object = (first, step, count)
        timestamps = _TIMES.get(key)
        if timestamps is None:
            timestamps = array("d", [first + i * step for i in range(count)])
    else:
        (length,) = LENGTH.unpack_from(chunk, at)
        at += LENGTH.size
        key = chunk[at : at + length]
        at += length
        timestamps = _TIMES.get(key)
        if timestamps is None:
            timestamps = unpack(key, count)
    if len(_TIMES) >= MAX_TIMES:
        _TIMES.clear()
    _TIMES[key] = timestamps
    return timestamps[:], unpack(chunk[at:], count)


def bounds(chunk: bytes) -> tuple[float, float]:
    """The first and last time of ``chunk``, read from its header alone."""
    _count, _kind, first, last, _step = HEADER.unpack_from(chunk)
    return first, last


def count(chunk: bytes) -> int:
    return int(HEADER.unpack_from(chunk)[0])


def _regular(timestamps: Sequence[float], first: float, step: float) -> bool:
    # Exactly the times decode() computes, so that the grid loses nothing.
    return all(timestamps[i] == first + i * step for i in range(len(timestamps)))


def pack(samples: Sequence[float]) -> bytes:
    raw = array("d", samples).tobytes()
    return zlib.compress(b"".join([raw[i::8] for i in range(8)]), LEVEL)


def unpack(packed: bytes, count: int) -> array[float]:
    planes = zlib.decompress(packed)
    if len(planes) != 8 * count:
        raise ValueError(f"a chunk's samples hold {len(planes)} bytes where {8 * count} were expected")
    raw = bytearray(8 * count)
    for i in range(8):
        raw[i::8] = planes[i * count : (i + 1) * count]
    out = array("d")
    out.frombytes(raw)
    return out
