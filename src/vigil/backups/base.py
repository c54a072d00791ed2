"""The one interface every backup engine implements, and what a backup leaves behind.

An engine module (``postgres``, ``sqlite``) defines a class following ``BackupEngine`` and a
``KIND`` naming it; ``registry`` lists the modules. The service (``backups.service``) names the
artefact, writes its manifest, measures time and keeps the run; an engine only dumps, reads
and restores. Blocking work (pg_dump, sqlite3) runs in subprocesses or threads, never in the
event loop. An engine raises ``BackupError`` with a one-line reason, secrets left out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from vigil.errors import BackupError

T = TypeVar("T")
W = TypeVar("W")


@dataclass(frozen=True)
class Dump:
    """What an engine says about a dump it wrote: the versions and the row count of each table;
    the artefact's SHA-256 when the engine took it while writing."""

    source_version: str
    client_version: str
    tables: dict[str, int] = field(default_factory=dict)
    checksum: str | None = None


class BackupEngine(Protocol):
    async def dump(self, source: str, into: Path) -> Dump:
        """Write a backup of ``source`` to ``into`` (a temporary file the service renames when done)."""

    async def check(self, artefact: Path) -> None:
        """Raise ``BackupError`` unless ``artefact`` is readable as a backup (``verify: list``)."""

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        """Restore ``artefact`` into a scratch database beside ``source`` that is dropped after,
        and return the row count of each table found there (``verify: restore``)."""

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        """Restore ``artefact`` into ``target``, which must not exist unless ``in_place``;
        return the row counts restored."""


@runtime_checkable
class RestoresWhileDumping(Protocol):
    """An engine that can verify by restoring while it dumps (``verify: restore`` right after
    the backup): the dump's bytes go to the artefact and into a scratch database at once."""

    async def dump_and_restore(self, source: str, into: Path) -> tuple[Dump, dict[str, int] | BackupError]:
        """``dump``, with ``Dump.checksum`` taken, and what ``scratch_counts`` would say of the
        artefact: the row counts found in the scratch database, or why the restore failed."""


@dataclass(frozen=True)
class EngineKind:
    """A registry entry: the engine key, the artefact's file suffix and how to make the engine.
    ``file_source``: the source is a file path, read from the stack file's folder when relative."""

    name: str
    suffix: str
    factory: Callable[[], BackupEngine]
    file_source: bool = False


def count_mismatches(expected: dict[str, int], found: dict[str, int]) -> str | None:
    """One line naming the tables whose row counts differ from the manifest's, or None."""
    wrong = [
        f"{table}: {found.get(table, 'missing')} rows, expected {rows}"
        for table, rows in sorted(expected.items())
        if found.get(table) != rows
    ]
    if not wrong:
        return None
    more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
    return "the restored data differs from the backup's manifest: " + "; ".join(wrong[:3]) + more


async def while_writing(writing: Awaitable[W], counting: Awaitable[T]) -> tuple[W, T]:
    """Await ``counting`` while the dump ``writing`` runs beside it; both must succeed, and a
    failed count stops the dump. What each gave."""
    task = asyncio.ensure_future(writing)
    try:
        result = await counting
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    return await task, result
