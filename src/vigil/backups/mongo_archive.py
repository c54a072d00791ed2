"""The file a ``mongodb`` backup is: one database's collections as BSON, framed so that a
truncated or altered file is noticed when it is read back.

The file is a sequence of records, each one byte naming its kind and one BSON document:

- ``H`` once, first: ``{"format": "vigil-mongodb-archive", "version": 1, "database": name}``;
- per collection, ``C`` ``{"collection": name, "options": {...}, "indexes": [...]}`` (the
  ``create`` options and the index specifications ``listIndexes`` gave), then one ``D`` per
  document, exactly as the server sent it, then ``E`` ``{"collection": name, "documents": n,
  "sha256": hex}``, the digest of its documents' bytes in order;
- ``Z`` once, last: ``{"collections": k, "documents": total}``.

Nothing follows ``Z``. A changed byte anywhere is found on reading: in a document by its
collection's digest, elsewhere by the framing. Documents are kept as the server's bytes (no decoding and re-encoding on
the way), so every BSON type survives a restore as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import bson

from vigil.errors import BackupError

FORMAT = "vigil-mongodb-archive"
VERSION = 1
HEADER, COLLECTION, DOCUMENT, END, FINAL = b"H", b"C", b"D", b"E", b"Z"
MAX_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024  # MongoDB's BSON limit, and a margin for its headers
BATCH_BYTES = 4 * 1024 * 1024  # documents handed to a restore at once


def record(kind: bytes, document: dict[str, Any]) -> bytes:
    return kind + bson.encode(document)


@dataclass
class Batch:
    """Documents of one collection read back, with how to create the collection (``first``: the
    collection's first batch, to create it before inserting)."""

    collection: str
    options: dict[str, Any]
    indexes: list[dict[str, Any]]
    first: bool
    documents: list[bytes] = field(default_factory=list)


def _read_record(stream: BinaryIO, where: Path) -> tuple[bytes, bytes] | None:
    kind = stream.read(1)
    if not kind:
        return None
    size_bytes = stream.read(4)
    if len(size_bytes) < 4:
        raise BackupError(f"{where.name} ends in the middle of a record: the archive is truncated")
    size = int.from_bytes(size_bytes, "little", signed=True)
    if kind not in (HEADER, COLLECTION, DOCUMENT, END, FINAL) or not 5 <= size <= MAX_DOCUMENT:
        raise BackupError(
            f"{where.name} is not a Vigil MongoDB archive: a damaged record at byte {stream.tell() - 5}"
        )
    body = size_bytes + stream.read(size - 4)
    if len(body) < size:
        raise BackupError(f"{where.name} ends in the middle of a record: the archive is truncated")
    return kind, body


def _decoded(body: bytes, where: Path, at: int) -> dict[str, Any]:
    try:
        return bson.decode(body)
    except (bson.errors.InvalidBSON, ValueError, TypeError, OverflowError) as err:
        raise BackupError(f"{where.name} holds a damaged BSON document near byte {at}: {err}") from None


class _Reading:
    """The collection being read: its batch so far, and what its end record must say."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path, self.name = path, str(meta.get("collection", ""))
        self.batch = Batch(self.name, dict(meta.get("options") or {}), list(meta.get("indexes") or []), True)
        self.documents = self.size = 0
        self.digest = hashlib.sha256()

    def add(self, body: bytes) -> Batch | None:
        """Take one document; the batch to hand on when it is full."""
        self.batch.documents.append(body)
        self.digest.update(body)
        self.documents += 1
        self.size += len(body)
        if self.size < BATCH_BYTES:
            return None
        full, self.size = self.batch, 0
        self.batch = Batch(full.collection, full.options, full.indexes, False)
        return full

    def end(self, meta: dict[str, Any]) -> Batch:
        if meta.get("documents") != self.documents:
            raise BackupError(
                f"{self.path.name}: collection {self.name} has {self.documents} documents, "
                f"its end record says {meta.get('documents')}"
            )
        if meta.get("sha256") != self.digest.hexdigest():
            raise BackupError(
                f"{self.path.name}: the documents of collection {self.name} changed since written"
            )
        return self.batch


def _header(stream: BinaryIO, path: Path) -> None:
    first = _read_record(stream, path)
    header = _decoded(first[1], path, 0) if first and first[0] == HEADER else {}
    if header.get("format") != FORMAT:
        raise BackupError(f"{path.name} is not a Vigil MongoDB archive: it has no archive header")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path.name} is version {header.get('version')} of the archive; this Vigil reads {VERSION}"
        )


def batches(path: Path, *, decode_documents: bool = False) -> Iterator[Batch | dict[str, int]]:
    """Read ``path`` back, checking its framing, counts and digests as it goes: a ``Batch`` of a
    collection's documents whenever ``BATCH_BYTES`` are read and when it ends (so memory stays
    bounded), and the document count of each collection last. ``decode_documents`` also decodes
    every document, which proves each is valid BSON. ``BackupError`` at the first fault."""
    counts: dict[str, int] = {}
    try:
        stream = path.open("rb")
    except OSError as err:
        raise BackupError(f"cannot read {path}: {err.strerror}") from None
    with stream:
        _header(stream, path)
        current: _Reading | None = None
        while (found := _read_record(stream, path)) is not None:
            kind, body = found
            at = stream.tell() - len(body) - 1
            if kind == DOCUMENT and current is not None:
                if decode_documents:
                    _decoded(body, path, at)
                if (full := current.add(body)) is not None:
                    yield full
                continue
            meta = _decoded(body, path, at)
            if kind == COLLECTION and current is None:
                current = _Reading(path, meta)
                if not current.name or current.name in counts:
                    raise BackupError(
                        f"{path.name} names the collection {current.name!r} twice or not at all"
                    )
            elif kind == END and current is not None and meta.get("collection") == current.name:
                yield current.end(meta)
                counts[current.name], current = current.documents, None
            elif kind == FINAL and current is None:
                if meta.get("collections") != len(counts) or stream.read(1):
                    raise BackupError(f"{path.name} does not end where its last record says it does")
                yield counts
                return
            else:
                raise BackupError(
                    f"{path.name} is not a Vigil MongoDB archive: a record out of place at byte {at}"
                )
    raise BackupError(f"{path.name} ends before its final record: the archive is truncated")
