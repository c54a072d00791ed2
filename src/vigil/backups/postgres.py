"""``postgres``: ``pg_dump -Fc`` of one database, checked with ``pg_restore --list``, proven by
``pg_restore`` into a scratch database that is dropped after.

The dump runs in a snapshot Vigil exports (``pg_dump --snapshot``), and the rows of each table
are counted in that same snapshot while pg_dump writes: the manifest's counts are exactly the
dump's. pg_dump cannot dump a server of a newer major version, so that is refused first, with
that reason. The password travels in ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from vigil.backups.base import Dump, EngineKind, while_writing
from vigil.errors import BackupError, BackupRefused

if TYPE_CHECKING:
    import asyncpg

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
    try:
        process = await asyncio.create_subprocess_exec(
            tool,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**_base_env(), **(env or {})},
        )
    except OSError as err:
        raise BackupError(f"cannot run {tool}: {err.strerror}; install the PostgreSQL client") from None
    try:
        out, said_bytes = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        said = [line for line in said_bytes.decode("utf-8", "replace").splitlines() if line.strip()]
        raise BackupError(f"{tool} failed (exit {process.returncode}): {said[-1] if said else 'no message'}")
    return out.decode("utf-8", "replace")


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
            url, env = _split(source)
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
                args = ("-Fc", f"--snapshot={snapshot}", "-f", str(into), "-d", url)
                counts = await while_writing(_run("pg_dump", *args, env=env), table_counts(conn))
        except _lost() as err:
            raise BackupError(f"the source failed during the backup: {err}") from None
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        return Dump(f"PostgreSQL {said}", f"pg_dump {client_version}", counts)

    async def check(self, artefact: Path) -> None:
        await _run("pg_restore", "--list", "-f", "/dev/null", str(artefact))

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        scratch = f"vigil_verify_{secrets.token_hex(6)}"
        conn = await _connect(source)
        try:
            await conn.execute(f'CREATE DATABASE "{scratch}" TEMPLATE template0')
            try:
                return await self._load(artefact, _database(source, scratch), *_jobs())
            finally:
                await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        finally:
            await conn.close(timeout=5)

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
        await _run(
            "pg_restore",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            *extra,
            "-d",
            url,
            str(artefact),
            env=env,
        )
        conn = await _connect(target)
        try:
            return await table_counts(conn)
        finally:
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
