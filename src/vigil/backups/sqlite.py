"""``sqlite``: a copy through SQLite's online backup API (``Connection.backup``), which is
consistent while the application keeps writing; checked with ``PRAGMA integrity_check``,
proven by a copy into a scratch file whose rows are counted.

The source is a file path (or ``sqlite:///path``). sqlite3 blocks, so each step runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
from pathlib import Path

from vigil.backups.base import Dump, EngineKind
from vigil.errors import BackupError, BackupRefused

MAX_TABLES = 10_000


def _path(source: str) -> Path:
    return Path(source.removeprefix("sqlite:///") if source.startswith("sqlite:///") else source)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT ?",
        (MAX_TABLES,),
    ).fetchall()
    quoted = {name: '"' + name.replace('"', '""') + '"' for (name,) in names}
    return {name: int(conn.execute(f"SELECT count(*) FROM {q}").fetchone()[0]) for name, q in quoted.items()}


def _copy(source: Path, into: Path) -> dict[str, int]:
    """Copy ``source`` into ``into`` with the backup API; the copy's row counts."""
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(into)) as dst,
        ):
            src.backup(dst)
            return _counts(dst)
    except sqlite3.Error as err:
        raise BackupError(f"SQLite could not copy {source}: {err}") from None


def _integrity(artefact: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{artefact}?mode=ro&immutable=1", uri=True)) as conn:
            said = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.Error as err:
        raise BackupError(f"SQLite cannot read the backup: {err}") from None
    if said != ["ok"]:
        raise BackupError(f"PRAGMA integrity_check found damage: {'; '.join(map(str, said))[:300]}")


class SqliteEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        counts = await asyncio.to_thread(_copy, _path(source), into)
        version = f"SQLite {sqlite3.sqlite_version}"
        return Dump(version, f"python sqlite3 {sqlite3.sqlite_version}", counts)

    async def check(self, artefact: Path) -> None:
        await asyncio.to_thread(_integrity, artefact)

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        await self.check(artefact)
        with tempfile.TemporaryDirectory(prefix="vigil-verify-") as folder:
            return await asyncio.to_thread(_copy, artefact, Path(folder) / "scratch.db")

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        path = _path(target)
        if path.exists() and not in_place:
            raise BackupRefused(
                f"{path} exists already: restore into a new file, or over the job's source with --in-place"
            )
        await self.check(artefact)
        try:
            return await asyncio.to_thread(_copy, artefact, path)
        except BaseException:  # nothing half-restored is left looking good
            if not in_place:
                path.unlink(missing_ok=True)
            raise


KIND = EngineKind("sqlite", "sqlite", SqliteEngine, file_source=True)
