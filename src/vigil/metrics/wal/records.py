"""The write-ahead log's records: how a batch becomes bytes, and how a segment's bytes are read
back, skipping what is torn or corrupt.

A record is an 11-byte header — a magic number, the payload's length, the CRC32 of the kind byte
and payload, the kind — and the payload. Two kinds:

- ``SERIES``: series new to the segment, ``count``, then ``count`` segment-local ids (uint32),
  then each series' labels as canonical JSON, one a line (JSON escapes a newline inside a value);
- ``SAMPLES``: ``count`` groups, each a time (float64), a size, then that many local ids
  (uint32) and as many values (float64). A group is a run of samples that share their time — a
  check result's, a scrape's — so a target's scrapes repeat the same ids in the same order, and a
  replay stacks them and takes each series' column with one strided copy in C (see ``replay``).

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
from typing import TypeVar

MAGIC = 0xD71A
_HEADER = struct.Struct("<HIIB")  # magic, payload length, crc32(kind + payload), kind
HEADER_SIZE = _HEADER.size
_MAGIC_BYTES = MAGIC.to_bytes(2, "little")
_COUNT = struct.Struct("<I")
_GROUP = struct.Struct("<dI")  # time, size
# A longer length than this is corruption, not a record: a batch is capped well below it.
MAX_PAYLOAD = 256 * 1024 * 1024
_SWAP = sys.byteorder != "little"
_T = TypeVar("_T", int, float)


class RecordKind(IntEnum):
    SERIES = 1
    SAMPLES = 2


def frame(kind: RecordKind, payload: bytes) -> bytes:
    body = bytes((kind,)) + payload
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(body), kind) + payload


def series_record(ids: Sequence[int], labels: Sequence[Mapping[str, str]]) -> bytes:
    lines = "\n".join(label_key(one) for one in labels).encode()
    return frame(RecordKind.SERIES, _COUNT.pack(len(ids)) + _packed(array("I", ids)) + lines)


def samples_record(groups: Sequence[tuple[float, array[int], array[float]]]) -> bytes:
    """``groups``: (time, local ids, values) each."""
    parts = [_COUNT.pack(len(groups))]
    for t, ids, values in groups:
        parts += (_GROUP.pack(t, len(ids)), _packed(ids), _packed(values))
    return frame(RecordKind.SAMPLES, b"".join(parts))


def label_key(labels: Mapping[str, str]) -> str:
    """A series' labels as canonical JSON: the same text for the same series in every segment."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class SeriesBatch:
    ids: array[int]
    keys: list[str]  # label_key of each


Group = tuple[float, bytes, bytes]
"""Time; ids, packed uint32 as written (a target's scrapes give the same bytes each time);
values, packed float64. A plain tuple: a replay reads about one per scrape."""


def decode_series(payload: bytes) -> SeriesBatch | None:
    """None when the payload does not hold what its count says (a bug or a CRC collision)."""
    count = _count(payload)
    if count is None or len(payload) < 4 + 4 * count:
        return None
    end = 4 + 4 * count
    keys = payload[end:].decode(errors="replace").split("\n") if count else []
    if len(keys) != count:
        return None
    return SeriesBatch(ids_of(payload[4:end]), keys)


def decode_samples(payload: bytes) -> list[Group] | None:
    count = _count(payload)
    if count is None:
        return None
    groups: list[Group] = []
    pos = 4
    for _ in range(count):
        if pos + _GROUP.size > len(payload):
            return None
        t, size = _GROUP.unpack_from(payload, pos)
        pos += _GROUP.size
        values_at = pos + 4 * size
        end = values_at + 8 * size
        groups.append((t, payload[pos:values_at], payload[values_at:end]))
        pos = end
    return groups if pos == len(payload) else None


def ids_of(raw: bytes) -> array[int]:
    return _filled(array("I"), raw)


def floats_of(raw: bytes) -> array[float]:
    return _filled(array("d"), raw)


def _filled(column: array[_T], raw: bytes) -> array[_T]:
    column.frombytes(raw)
    if _SWAP:
        column.byteswap()
    return column


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
