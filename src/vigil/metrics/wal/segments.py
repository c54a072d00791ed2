"""The write-ahead log's segment files: ``00000001``, ``00000002``, … in one folder, each cut at
about ``size`` bytes and never written again once cut (nor after a restart: a new run starts a new
segment, so a torn tail stays at the end of its own file).

A series keeps its id from one segment to the next for as long as the writer lives (each segment
still names the series it holds, so that it reads alone): a target's scrapes then give the same
group shape in every segment, and a replay stacks them across segments rather than per segment.

``SegmentWriter`` is used from one thread at a time (the log's writer); ``drop_before`` may come
from another, so the list of closed segments is shared under a lock.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from array import array
from collections.abc import Mapping
from pathlib import Path

from vigil.metrics.store import Accepted, SeriesRef
from vigil.metrics.wal.records import samples_record, series_record

SEGMENT_SIZE = 32 * 1024 * 1024
# Ids are written as uint32; a segment names far fewer than 2**24 series, so numbering starts
# again at the first cut past this.
_ID_LIMIT = 2**32 - 2**24
_DIGITS = 8


def segment_paths(folder: Path) -> list[tuple[int, Path]]:
    """The segments in ``folder``, oldest first; other files are left alone."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = [(int(name), folder / name) for name in names if len(name) == _DIGITS and name.isdigit()]
    return sorted(found)


class SegmentWriter:
    def __init__(self, folder: Path, size: int = SEGMENT_SIZE) -> None:
        self.folder = folder
        self.size = size
        self._fd: int | None = None
        self._number = 0
        self._written = 0  # bytes of the open segment that are on disk
        self._ids: dict[SeriesRef, int] = {}  # the series the open segment has named, by id
        self._run_ids: dict[SeriesRef, int] = {}  # every live series' id, kept across segments
        self._next_id = 0
        self._newest = -math.inf  # newest sample time in the open segment
        self._lock = threading.Lock()
        # Closed segment → its newest sample time and its size.
        self._closed: dict[int, tuple[float, int]] = {}
        # One write or close at a time, also when a stop abandons a write still in its thread.
        self._io = threading.Lock()

    def adopt(self, segments: Mapping[int, float]) -> None:
        """Take the segments found at start (number → newest sample time) as closed ones."""
        sizes = {number: _size(self._path(number)) for number in segments}
        with self._lock:
            self._closed.update((number, (newest, sizes[number])) for number, newest in segments.items())
            self._number = max(self._number, *segments, 0)

    def write(self, batch: list[Accepted]) -> int:
        """Append ``batch`` and fsync it; returns the bytes written. On an ``OSError`` the open
        segment is put back as it was before (or given up, if even that fails) and it is raised."""
        with self._io:
            return self._write(batch)

    def _write(self, batch: list[Accepted]) -> int:
        if self._fd is None:
            self._open()
        data, named = self._encode(batch)
        if self._written and self._written + len(data) > self.size:
            self._cut()
            self._open()
            data, named = self._encode(batch)
        try:
            self._append(self._fd, data)
        except OSError:
            for ref in named:
                del self._ids[ref]
            self._rewind()
            raise
        self._newest = max(self._newest, *(t for _, t, _ in batch))
        return len(data)

    def close(self) -> None:
        with self._io:
            self._cut()

    def drop_before(self, t: float) -> int:
        """Delete the closed segments whose newest sample is at or before ``t``; returns how many."""
        with self._lock:
            return self._delete([number for number, (newest, _) in self._closed.items() if newest <= t])

    def drop_over(self, limit: int) -> int:
        """Delete the oldest closed segments while all of them take more than ``limit`` bytes."""
        with self._lock:
            total = self._written + sum(size for _, size in self._closed.values())
            gone = []
            for number in sorted(self._closed):
                if total <= limit:
                    break
                total -= self._closed[number][1]
                gone.append(number)
            return self._delete(gone)

    def segments(self) -> int:
        with self._lock:
            return len(self._closed) + (self._fd is not None)

    def _delete(self, numbers: list[int]) -> int:
        for number in numbers:
            self._path(number).unlink(missing_ok=True)
            del self._closed[number]
        return len(numbers)

    def _path(self, number: int) -> Path:
        return self.folder / f"{number:0{_DIGITS}d}"

    def _encode(self, batch: list[Accepted]) -> tuple[bytes, list[SeriesRef]]:
        """The batch as records: its series new to the segment, then its samples in groups of
        one time each (see ``records``)."""
        ids = self._ids
        named: list[SeriesRef] = []
        groups: list[tuple[float, array[int], array[float]]] = []
        local = array("I")
        values = array("d")
        group_t = math.nan
        for ref, t, value in batch:
            i = ids.get(ref)
            if i is None:
                i = ids[ref] = self._id_of(ref)
                named.append(ref)
            if t != group_t:
                local, values, group_t = array("I"), array("d"), t
                groups.append((t, local, values))
            local.append(i)
            values.append(value)
        head = series_record([ids[ref] for ref in named], [ref.labels for ref in named]) if named else b""
        return head + samples_record(groups), named

    def _id_of(self, ref: SeriesRef) -> int:
        i = self._run_ids.get(ref)
        if i is None:
            i = self._run_ids[ref] = self._next_id
            self._next_id += 1
        return i

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._number += 1
            number = self._number
        self._fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self._written = 0
        self._ids = {}
        # Series pruned from the store are forgotten; a series made again gets a new id.
        self._run_ids = {ref: i for ref, i in self._run_ids.items() if ref.live}
        if self._next_id >= _ID_LIMIT:
            self._run_ids, self._next_id = {}, 0
        self._newest = -math.inf
        sync_folder(self.folder)  # the new name itself survives a power cut

    def _append(self, fd: int | None, data: bytes) -> None:
        if fd is None:
            raise OSError("the series log has no open segment")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        self._written += len(data)

    def _rewind(self) -> None:
        """Cut off a partly written batch so the next one follows the last whole record."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._written)
            os.lseek(self._fd, self._written, os.SEEK_SET)
        except OSError:
            self._cut()

    def _cut(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Its data was fsynced already, or it is given up as the rewind failed.
        with contextlib.suppress(OSError):
            os.close(fd)
        with self._lock:
            if self._written:
                self._closed[self._number] = (self._newest, self._written)
            else:  # nothing made it in: no empty file left behind
                with contextlib.suppress(OSError):
                    self._path(self._number).unlink(missing_ok=True)
        self._ids = {}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def sync_folder(folder: Path) -> None:
    """Make a new or removed name in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
