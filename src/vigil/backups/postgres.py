"""``postgres``: ``pg_dump -Fc`` of one database, checked with ``pg_restore --list``, proven by
``pg_restore`` into a scratch database that is dropped after.

The dump runs in a snapshot Vigil exports (``pg_dump --snapshot``), and the rows of each table
are counted in that same snapshot while pg_dump writes: the manifest's counts are exactly the
dump's. pg_dump cannot dump a server of a newer major version, so that is refused first, with
that reason. The password travels in ``PGPASSWORD``, never on a command line.

Verified by a restore right after, the dump streams through Vigil into the artefact and into
``pg_restore`` of the scratch database at once (``stream.dump_teed``); that artefact carries no
data offsets (pg_dump wrote it to a pipe), which later restores, parallel ones too, do without.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from vigil.backups import stream
from vigil.backups.base import Dump, EngineKind, while_writing
from vigil.errors import BackupError, BackupRefused

if TYPE_CHECKING:
    import asyncpg

_HINT = "install the PostgreSQL client"
_LOAD = ("--no-owner", "--no-acl", "--exit-on-error")
MAX_TABLES = 10_000  # counted per backup; more is no database this engine is for
_TABLES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
ORDER BY 1 LIMIT $1
"""


def _split(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its password, and the environment that gives it to libpq's tools."""
    parts = urlsplit(url)
    env: dict[str, str] = {}
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{host}")
    return urlunsplit(parts), env


def _database(url: str, name: str) -> str:
    """``url`` pointed at the database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def _connect(url: str) -> asyncpg.Connection:
    import asyncpg

    try:
        return await asyncpg.connect(url, timeout=15)
    except (TimeoutError, OSError, asyncpg.PostgresError) as err:
        where = urlsplit(url).hostname or "localhost"
        raise BackupError(
            f"cannot connect to PostgreSQL at {where}: {str(err) or type(err).__name__}"
        ) from None


async def _run(tool: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL client tool; its stdout, or ``BackupError`` with the last line it said."""
    return await stream.finish(tool, await stream.start(_command(tool, args, env), _HINT))


def _command(tool: str, args: tuple[str, ...], env: dict[str, str] | None = None) -> stream.Command:
    return tool, args, {**_base_env(), **(env or {})}


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


async def client_major() -> tuple[int, str]:
    said = await _run("pg_dump", "--version")
    match = re.search(r"(\d+)(?:\.(\d+))?", said)
    if match is None:
        raise BackupError(f"cannot read pg_dump's version from {said.strip()!r}")
    return int(match.group(1)), match.group(0)


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (table,) in await conn.fetch(_TABLES, MAX_TABLES):
        counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


class PostgresEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        async with _snapshot(source) as (conn, snapshot, made):
            url, env = _split(source)
            args = ("-Fc", f"--snapshot={snapshot}", "-f", str(into), "-d", url)
            _, counts = await while_writing(_run("pg_dump", *args, env=env), table_counts(conn))
        return Dump(*made, counts)

    async def dump_and_restore(self, source: str, into: Path) -> tuple[Dump, dict[str, int] | BackupError]:
        """The dump streams into the artefact and into ``pg_restore`` of a scratch database at
        once, the same restore ``scratch_counts`` runs but from the dump's own bytes (one job:
        a stream cannot be restored in parallel)."""
        async with _scratch(source) as scratch:
            target, target_env = _split(scratch)
            restore = _command("pg_restore", (*_LOAD, "-d", target), target_env)
            restoring = None
            try:
                async with _snapshot(source) as (conn, snapshot, made):
                    url, env = _split(source)
                    dump = _command("pg_dump", ("-Fc", f"--snapshot={snapshot}", "-d", url), env)
                    teeing = stream.dump_teed(dump, restore, into, _HINT)
                    (checksum, restoring), counts = await while_writing(teeing, table_counts(conn))
            except BaseException:
                if restoring is not None:
                    await stream.stop(restoring)
                raise
            # The source's snapshot is let go: what is left is the restore's own work.
            try:
                found: dict[str, int] | BackupError = await _counted(restoring, scratch)
            except BackupError as err:
                found = err
        return Dump(*made, counts, checksum), found

    async def check(self, artefact: Path) -> None:
        await _run("pg_restore", "--list", "-f", "/dev/null", str(artefact))

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        async with _scratch(source) as scratch:
            return await self._load(artefact, scratch, *_jobs())

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        if in_place:
            return await self._load(artefact, target, "--clean", "--if-exists", "--single-transaction")
        name = _name(target)
        conn = await _connect(_database(target, "template1"))
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                raise BackupRefused(
                    f"the database {name} exists already: restore into a new one, "
                    "or over the job's source with --in-place"
                )
            await conn.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}" TEMPLATE template0')
            try:
                return await self._load(artefact, target, *_jobs())
            except BaseException:  # nothing half-restored is left looking good
                await conn.execute(f'DROP DATABASE IF EXISTS "{name.replace(chr(34), "")}" WITH (FORCE)')
                raise
        finally:
            await conn.close(timeout=5)

    async def _load(self, artefact: Path, target: str, *extra: str) -> dict[str, int]:
        url, env = _split(target)
        await _run("pg_restore", *_LOAD, *extra, "-d", url, str(artefact), env=env)
        return await _target_counts(target)


async def _target_counts(target: str) -> dict[str, int]:
    conn = await _connect(target)
    try:
        return await table_counts(conn)
    except _lost() as err:
        raise BackupError(f"cannot count the restored rows: {err}") from None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=5)


async def _counted(restoring: asyncio.subprocess.Process, scratch: str) -> dict[str, int]:
    """Once the streamed restore ``restoring`` is done, the rows found in ``scratch``."""
    await stream.finish("pg_restore", restoring)
    return await _target_counts(scratch)


@contextlib.asynccontextmanager
async def _snapshot(source: str) -> AsyncIterator[tuple[asyncpg.Connection, str, tuple[str, str]]]:
    """A connection to ``source`` in a read-only snapshot, the snapshot's name for pg_dump, and
    the versions a ``Dump`` names; a server newer than pg_dump is refused first."""
    client, client_version = await client_major()
    conn = await _connect(source)
    try:
        server = conn.get_server_version()
        if server.major > client:
            raise BackupError(
                f"the server runs PostgreSQL {server.major} and pg_dump is {client_version}: "
                f"pg_dump cannot dump a newer server; install postgresql-client-{server.major}"
            )
        said = str(await conn.fetchval("SHOW server_version")).split(" ")[0]
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = str(await conn.fetchval("SELECT pg_export_snapshot()"))
            yield conn, snapshot, (f"PostgreSQL {said}", f"pg_dump {client_version}")
    except _lost() as err:
        raise BackupError(f"the source failed during the backup: {err}") from None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=5)


@contextlib.asynccontextmanager
async def _scratch(source: str) -> AsyncIterator[str]:
    """The URL of a new, empty database beside ``source``, dropped after."""
    name = f"vigil_verify_{secrets.token_hex(6)}"
    conn = await _connect(source)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield _database(source, name)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except _lost() as err:
        raise BackupError(f"the scratch database for the verifying restore failed: {err}") from None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=5)


def _jobs() -> tuple[str, ...]:
    """pg_restore's parallel jobs into a new database (a custom-format dump allows it):
    the restore is most of a verification's time."""
    import os

    return (f"--jobs={min(4, os.cpu_count() or 1)}",)


def _lost() -> tuple[type[BaseException], ...]:
    import asyncpg

    errors: tuple[Any, ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)
    return errors


KIND = EngineKind("postgres", "dump", PostgresEngine)
