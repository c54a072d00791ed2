"""The write-ahead log's records: how a batch becomes bytes, and how a segment's bytes are read
back, skipping what is torn or corrupt.

A record is an 11-byte header — a magic number, the payload's length, the CRC32 of the kind byte
and payload, the kind — and the payload. Two kinds:

- ``SERIES``: series new to the segment, ``count``, then ``count`` segment-local ids (uint32),
  then each series' labels as canonical JSON, one a line (JSON escapes a newline inside a value);
- ``SAMPLES``: ``count``, then ``count`` local ids (uint32), times and values (float64), each
  column as one packed array, so that writing and reading a batch are a few copies in C.

Every segment names its own series before their samples, so any segment reads without the ones
before it and a segment can be deleted whole. Numbers are little-endian.

A reader that meets a record whose CRC or length is wrong counts it and looks for the next magic
number; a CRC must match there too, so a magic that happens to be in a payload is passed over.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

MAGIC = 0xD71A
_HEADER = struct.Struct("<HIIB")  # magic, payload length, crc32(kind + payload), kind
HEADER_SIZE = _HEADER.size
_MAGIC_BYTES = MAGIC.to_bytes(2, "little")
_COUNT = struct.Struct("<I")
# A longer length than this is corruption, not a record: a batch is capped well below it.
MAX_PAYLOAD = 256 * 1024 * 1024
_SWAP = sys.byteorder != "little"


class RecordKind(IntEnum):
    SERIES = 1
    SAMPLES = 2


def frame(kind: RecordKind, payload: bytes) -> bytes:
    body = bytes((kind,)) + payload
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(body), kind) + payload


def series_record(ids: Sequence[int], labels: Sequence[Mapping[str, str]]) -> bytes:
    lines = "\n".join(label_key(one) for one in labels).encode()
    return frame(RecordKind.SERIES, _COUNT.pack(len(ids)) + _packed(array("I", ids)) + lines)


def samples_record(ids: array[int], times: array[float], values: array[float]) -> bytes:
    payload = _COUNT.pack(len(ids)) + _packed(ids) + _packed(times) + _packed(values)
    return frame(RecordKind.SAMPLES, payload)


def label_key(labels: Mapping[str, str]) -> str:
    """A series' labels as canonical JSON: the same text for the same series in every segment."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class SeriesBatch:
    ids: array[int]
    keys: list[str]  # label_key of each


@dataclass(frozen=True)
class SamplesBatch:
    ids: array[int]
    times: array[float]
    values: array[float]


def decode_series(payload: bytes) -> SeriesBatch | None:
    """None when the payload does not hold what its count says (a bug or a CRC collision)."""
    count = _count(payload)
    if count is None or len(payload) < 4 + 4 * count:
        return None
    end = 4 + 4 * count
    keys = payload[end:].decode(errors="replace").split("\n") if count else []
    if len(keys) != count:
        return None
    return SeriesBatch(_ids(payload[4:end]), keys)


def decode_samples(payload: bytes) -> SamplesBatch | None:
    count = _count(payload)
    if count is None or len(payload) != 4 + 20 * count:
        return None
    times_at = 4 + 4 * count
    values_at = times_at + 8 * count
    return SamplesBatch(
        _ids(payload[4:times_at]),
        _floats(payload[times_at:values_at]),
        _floats(payload[values_at:]),
    )


@dataclass
class ScanCount:
    records: int = 0
    skipped: int = 0  # torn or corrupt stretches, each counted once


def scan(data: bytes, count: ScanCount) -> Iterator[tuple[RecordKind, bytes]]:
    """The sound records of one segment's bytes, in order."""
    size = len(data)
    pos = 0
    lost = False  # inside a stretch already counted as skipped
    while pos < size:
        if pos + HEADER_SIZE <= size:
            magic, length, crc, kind = _HEADER.unpack_from(data, pos)
            end = pos + HEADER_SIZE + length
            if magic == MAGIC and length <= MAX_PAYLOAD and end <= size and kind in _KINDS:
                if zlib.crc32(data[pos + HEADER_SIZE - 1 : end]) == crc:
                    count.records += 1
                    lost = False
                    yield RecordKind(kind), data[pos + HEADER_SIZE : end]
                    pos = end
                    continue
                if not lost and data[end : end + 2] == _MAGIC_BYTES:
                    # The header is whole and the payload damaged: the next record starts at end.
                    count.skipped += 1
                    pos = end
                    continue
        if not lost:
            count.skipped += 1
            lost = True
        found = data.find(_MAGIC_BYTES, pos + 1)
        if found < 0:
            return
        pos = found


_KINDS = frozenset(k.value for k in RecordKind)


def _count(payload: bytes) -> int | None:
    if len(payload) < 4:
        return None
    count: int = _COUNT.unpack_from(payload)[0]
    return count


def _packed(column: array[int] | array[float]) -> bytes:
    if _SWAP:
        column = array(column.typecode, column)
        column.byteswap()
    return column.tobytes()


def _ids(raw: bytes) -> array[int]:
    column = array("I")
    column.frombytes(raw)
    if _SWAP:
        column.byteswap()
    return column


def _floats(raw: bytes) -> array[float]:
    column = array("d")
    column.frombytes(raw)
    if _SWAP:
        column.byteswap()
    return column
