"""A closed chunk of one series: its samples compressed into one ``bytes``, as memory and blocks hold it.

Layout: a header ``<HBddd`` (count, kind, first time, last time, step), the first and last values
(``<dd``), then for irregular timestamps their compressed bytes (a ``<I`` length first), then the
compressed values. The kind's low bit says whether the timestamps are irregular; the next bit which
compressor packed them: zstd, or zlib in the chunks of stores written before zstd; the third whether
the first and last values follow the header. Chunks of older stores lack either and are still read.
With a chunk's count, first and last samples in its header, ``rate``, ``increase`` and ``delta``
over a window that holds the chunk whole read it without unpacking it (``heads.SeriesRef.edges``).
Timestamps on a regular grid (``first + i * step`` exactly, as scrapes on a fixed interval and
backfills give) take the header alone; any others are stored whole, as values are.

The codec was chosen by measurement (``bench/chunk_codec.py`` on ``bench/rules.py``'s data, 120
samples a chunk): zstd (level 3) over the plain doubles takes 1.77 bytes a sample, packs a chunk in
about 13 µs and unpacks it in one call of about 4 µs; zlib took 2.10 bytes, 51 µs and 6 µs (and up to
three times that packing where the allocator hands zlib's 256 KiB state back to the system after each
chunk: a start-up that closes a chunk for every series paid it 200,000 times). Transposing the
doubles' bytes first (all first bytes, then all second bytes, …) takes 1.68 but unpacking half as
fast again (eight slice assignments more), and Gorilla-style XOR against the previous value 1.5,
computed a sample at a time in Python. A rule over ``[1h]`` decodes every chunk of its series each
cycle, so unpacking speed won over a fraction of a byte a sample. Each thread keeps its own zstd
contexts (they are not to be shared between threads), so no chunk allocates one.
Bits are exact: NaNs (stale markers among them), ±inf and -0.0 come back as they went in.
"""

from __future__ import annotations

import struct
import threading
import zlib
from array import array
from collections.abc import Sequence

import zstandard

HEADER = struct.Struct("<HBddd")
LENGTH = struct.Struct("<I")
REGULAR = 0
IRREGULAR = 1  # the kind's low bit
ZSTD = 2  # the kind's second bit: packed by zstd, not zlib
EDGES = 4  # the kind's third bit: the first and last values follow the header
EDGE_VALUES = struct.Struct("<dd")
LEVEL = 3
_CONTEXTS = threading.local()
MAX_SAMPLES = 65_535  # the count is two bytes
# Decoded timestamps by their encoding: the series of one scrape share their times, so a window over
# many of them decodes those once and copies them (in C) for each. Bounded; emptied when full.
_TIMES: dict[object, array[float]] = {}
MAX_TIMES = 4096
# Chunks decoded lately, oldest first, up to this many samples: the rules read the same long windows
# every cycle, and a chunk's bytes (its key) keep their hash once computed. A sample costs 8 bytes
# there when its chunk's times are on a grid (those are shared with every chunk of the same times),
# 16 otherwise.
DECODED_SAMPLES = 6_000_000
# Irregular timestamps packed lately, by (first, last, count): the series of one scrape close their
# chunks one after another over the same times (so does a start-up replaying them), which are then
# packed once. A few entries, emptied when full.
_PACKED: dict[tuple[float, float, int], tuple[bytes, bytes]] = {}
MAX_PACKED = 16


def encode(timestamps: Sequence[float], values: Sequence[float]) -> bytes:
    """One chunk of ``timestamps`` (increasing) and their ``values``; at least one sample."""
    count = len(timestamps)
    if not 0 < count <= MAX_SAMPLES or len(values) != count:
        raise ValueError(f"a chunk holds 1 to {MAX_SAMPLES} samples with a value each, not {count}")
    first = timestamps[0]
    last = timestamps[count - 1]
    step = (timestamps[1] - first) if count > 1 else 0.0
    packed_values = pack(values)
    edges = EDGE_VALUES.pack(values[0], values[count - 1])
    if _regular(timestamps, first, step):
        return HEADER.pack(count, ZSTD | EDGES | REGULAR, first, last, step) + edges + packed_values
    raw = array("d", timestamps).tobytes()  # compared as bytes: items compared one by one box each
    key = (first, last, count)
    found = _PACKED.get(key)
    if found is not None and found[0] == raw:
        packed_times = found[1]
    else:
        packed_times = _compress(raw)
        if len(_PACKED) >= MAX_PACKED:
            _PACKED.clear()
        _PACKED[key] = (raw, packed_times)
    return (
        HEADER.pack(count, ZSTD | EDGES | IRREGULAR, first, last, step)
        + edges
        + LENGTH.pack(len(packed_times))
        + packed_times
        + packed_values
    )


class DamagedChunk(ValueError):
    """A chunk's bytes do not decode: cut short, or changed on disk."""


def decode(chunk: bytes) -> tuple[array[float], array[float]]:
    """The timestamps and values of ``chunk``, as new arrays the caller may keep; ``DamagedChunk``
    when its bytes do not decode."""
    try:
        timestamps, values = _decode(chunk)
    except (ValueError, struct.error, zlib.error) as err:
        raise DamagedChunk(f"a chunk of {len(chunk)} bytes does not decode: {err}") from None
    return timestamps[:], values


def _decode(chunk: bytes) -> tuple[array[float], array[float]]:
    """As ``decode``, but the timestamps may be shared with other chunks' (never to be changed)."""
    count, kind, first, _last, step = HEADER.unpack_from(chunk)
    at = HEADER.size + EDGE_VALUES.size if kind & EDGES else HEADER.size
    zstd = bool(kind & ZSTD)
    if not kind & IRREGULAR:
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
            timestamps = unpack(key, count, zstd=zstd)
    if len(_TIMES) >= MAX_TIMES:
        _TIMES.clear()
    _TIMES[key] = timestamps
    return timestamps, unpack(chunk[at:], count, zstd=zstd)


class RecentChunks:
    """Chunks decoded lately, oldest first, up to ``limit`` samples in all."""

    def __init__(self, limit: int = DECODED_SAMPLES) -> None:
        self.limit = limit
        self.samples = 0
        self._decoded: dict[bytes, tuple[array[float], array[float]]] = {}

    def decode(self, chunk: bytes) -> tuple[array[float], array[float]]:
        """As ``decode``, but from the recently decoded chunks when ``chunk`` is among them: arrays
        the caller must not change (slices of them are its own)."""
        found = self._decoded.get(chunk)
        if found is None:
            found = self._decoded[chunk] = _decode(chunk)
            self.samples += len(found[0])
            while self.samples > self.limit:
                self.samples -= len(self._decoded.pop(next(iter(self._decoded)))[0])
        return found

    def __contains__(self, chunk: bytes) -> bool:
        return chunk in self._decoded


RECENT = RecentChunks()  # the one the series store reads through


def decode_shared(chunk: bytes) -> tuple[array[float], array[float]]:
    """``RECENT.decode``: ``chunk`` decoded, or taken from the recently decoded ones."""
    return RECENT.decode(chunk)


def bounds(chunk: bytes) -> tuple[float, float]:
    """The first and last time of ``chunk``, read from its header alone."""
    _count, _kind, first, last, _step = HEADER.unpack_from(chunk)
    return first, last


def count(chunk: bytes) -> int:
    return int(HEADER.unpack_from(chunk)[0])


def edges(chunk: bytes) -> tuple[int, float, float, float, float]:
    """The count, first time, first value, last time and last value of ``chunk``: from its header,
    or for a chunk written without its edge values, decoded (``decode_shared``)."""
    count, kind, first, last, _step = HEADER.unpack_from(chunk)
    if kind & EDGES:
        first_value, last_value = EDGE_VALUES.unpack_from(chunk, HEADER.size)
        return count, first, first_value, last, last_value
    values = RECENT.decode(chunk)[1]
    return count, first, values[0], last, values[count - 1]


def _regular(timestamps: Sequence[float], first: float, step: float) -> bool:
    # Exactly the times decode() computes, so that the grid loses nothing. The last time first (most
    # irregular runs end off the grid), then each over a list: compiled, unboxed doubles compared.
    count = len(timestamps)
    if timestamps[count - 1] != first + (count - 1) * step:
        return False
    return all(t == first + i * step for i, t in enumerate(list(timestamps)))


def regular(chunk: bytes) -> bool:
    """Whether ``chunk``'s timestamps are on a grid (its header holds them)."""
    return not HEADER.unpack_from(chunk)[1] & IRREGULAR


def pack(samples: Sequence[float]) -> bytes:
    return _compress(array("d", samples).tobytes())


def _compress(raw: bytes) -> bytes:
    compressor: zstandard.ZstdCompressor | None = getattr(_CONTEXTS, "compressor", None)
    if compressor is None:
        compressor = _CONTEXTS.compressor = zstandard.ZstdCompressor(
            level=LEVEL, write_checksum=False, write_content_size=False, write_dict_id=False
        )
    return compressor.compress(raw)


def unpack(packed: bytes, count: int, *, zstd: bool = True) -> array[float]:
    if zstd:
        decompressor: zstandard.ZstdDecompressor | None = getattr(_CONTEXTS, "decompressor", None)
        if decompressor is None:
            decompressor = _CONTEXTS.decompressor = zstandard.ZstdDecompressor()
        try:
            raw = decompressor.decompress(packed, max_output_size=8 * count)
        except zstandard.ZstdError as err:
            raise ValueError(f"a chunk's samples cannot be unpacked: {err}") from None
    else:
        raw = zlib.decompress(packed)
    if len(raw) != 8 * count:
        raise ValueError(f"a chunk's samples hold {len(raw)} bytes where {8 * count} were expected")
    out = array("d")
    out.frombytes(raw)
    return out
