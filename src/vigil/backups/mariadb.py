"""``mariadb``: ``mariadb-dump --single-transaction`` of one database, gzip-compressed; checked by
reading it whole (gzip's checksum, and the dump's own ``-- Dump completed`` last line), proven by
loading it into a scratch database that is dropped after.

The rows of each table are counted in a consistent snapshot Vigil opens just before the dump
starts its own; a write between the two would show as a count mismatch on ``verify: restore``,
never as a good backup with wrong data. The password goes to the client tools in an option file
only Vigil can read (``--defaults-extra-file``), never on a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import secrets
import tempfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vigil.backups.base import Dump, EngineKind, while_writing
from vigil.errors import BackupError, BackupRefused, ProbeError
from vigil.probes.mysql import connect_args

MAX_TABLES = 10_000  # counted per backup; more is no database this engine is for
_TAIL = b"-- Dump completed"
_TABLES = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME LIMIT %s
"""


def _args(url: str) -> dict[str, Any]:
    try:
        args = connect_args(url)
    except ProbeError as err:
        raise BackupError(f"the MariaDB source: {err}") from None
    if not args["db"]:
        raise BackupError("the MariaDB source names no database: add it after the port, e.g. /app")
    return args


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _connect(url: str) -> Any:
    import aiomysql

    args = connect_args(url)
    conn = aiomysql.Connection(**args, connect_timeout=15, autocommit=True)
    try:
        await conn._connect()
    except aiomysql.MySQLError as err:
        said = err.args[1] if len(err.args) > 1 else str(err) or type(err).__name__
        raise BackupError(f"cannot connect to MariaDB at {args['host']}:{args['port']}: {said}") from None
    except BaseException:
        conn.close()
        raise
    return conn


async def _fetch(conn: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with conn.cursor() as cursor:
        await cursor.execute(sql, params or None)
        rows: list[tuple[Any, ...]] = await cursor.fetchall()
        return rows


async def table_counts(conn: Any, db: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (table,) in await _fetch(conn, _TABLES, db, MAX_TABLES):
        [(rows,)] = await _fetch(conn, f"SELECT count(*) FROM {_quote(db)}.{_quote(table)}")
        counts[str(table)] = int(rows)
    return counts


@contextlib.asynccontextmanager
async def _options(url: str) -> AsyncIterator[str]:
    """An option file giving the client tools the server, user and password of ``url``."""

    def value(text: object) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    args = _args(url)
    lines = ["[client]", f"host={value(args['host'])}", f"port={args['port']}"]
    if args["user"]:
        lines.append(f"user={value(args['user'])}")
    lines.append(f"password={value(args['password'])}")
    with tempfile.TemporaryDirectory(prefix="vigil-mariadb-") as folder:
        path = Path(folder) / "client.cnf"
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")
        yield f"--defaults-extra-file={path}"


async def _pipeline(first: list[str], second: list[str], *, source: Path | None, into: Path | None) -> None:
    """``first | second`` reading ``source`` and writing ``into``; ``BackupError`` with the last
    line the first failing tool said."""
    read, write = os.pipe()
    with contextlib.ExitStack() as files:
        stdin = files.enter_context(source.open("rb")) if source else asyncio.subprocess.DEVNULL
        stdout = files.enter_context(into.open("wb")) if into else asyncio.subprocess.DEVNULL
        try:
            try:
                one = await asyncio.create_subprocess_exec(*first, stdin=stdin, stdout=write, stderr=-1)
            finally:
                os.close(write)
            try:
                two = await asyncio.create_subprocess_exec(*second, stdin=read, stdout=stdout, stderr=-1)
            except BaseException:
                one.kill()
                await one.wait()
                raise
        except OSError as err:
            raise BackupError(
                f"cannot run the MariaDB client: {err.strerror}; install mariadb-client"
            ) from None
        finally:
            os.close(read)
        try:
            said = await asyncio.gather(one.communicate(), two.communicate())
        except BaseException:
            for process in (one, two):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            raise
    for tool, process, (_, stderr) in zip((first[0], second[0]), (one, two), said, strict=True):
        if process.returncode != 0:
            lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
            raise BackupError(
                f"{tool} failed (exit {process.returncode}): {lines[-1] if lines else 'no message'}"
            )


async def _client_version() -> str:
    try:
        process = await asyncio.create_subprocess_exec("mariadb-dump", "--version", stdout=-1, stderr=-1)
    except OSError as err:
        raise BackupError(f"cannot run mariadb-dump: {err.strerror}; install mariadb-client") from None
    said = (await process.communicate())[0].decode("utf-8", "replace")
    return said.split("Distrib ")[-1].split(",")[0] if "Distrib " in said else said.strip()


def _read_whole(artefact: Path) -> None:
    tail = b""
    try:
        with gzip.open(artefact, "rb") as stream:
            while chunk := stream.read(1 << 20):
                tail = (tail + chunk)[-256:]
    except (OSError, EOFError, zlib.error) as err:
        raise BackupError(f"the MariaDB dump cannot be read: {err}") from None
    last = tail.rstrip().rsplit(b"\n", 1)[-1]
    if not last.startswith(_TAIL):
        raise BackupError("the MariaDB dump is incomplete: its last line is not '-- Dump completed'")


class MariadbEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        db = _args(source)["db"]
        client = await _client_version()
        conn = await _connect(source)
        try:
            [(version,)] = await _fetch(conn, "SELECT VERSION()")
            await _fetch(conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await _fetch(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            async with _options(source) as options:
                dumping = [options, "--single-transaction", "--quick", "--routines", "--triggers", "--", db]
                writing = _pipeline(["mariadb-dump", *dumping], ["gzip", "-c"], source=None, into=into)
                _, counts = await while_writing(writing, table_counts(conn, db))
        finally:
            conn.close()
        return Dump(f"MariaDB {str(version).split('-')[0]}", f"mariadb-dump {client}", counts)

    async def check(self, artefact: Path) -> None:
        await asyncio.to_thread(_read_whole, artefact)

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        await self.check(artefact)
        scratch = f"vigil_verify_{secrets.token_hex(6)}"
        conn = await _connect(source)
        try:
            await _fetch(conn, f"CREATE DATABASE {_quote(scratch)}")
            try:
                return await self._load(artefact, _database(source, scratch))
            finally:
                await _fetch(conn, f"DROP DATABASE IF EXISTS {_quote(scratch)}")
        finally:
            conn.close()

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        await self.check(artefact)
        if in_place:
            return await self._load(artefact, target)
        name = _args(target)["db"]
        conn = await _connect(_database(target, ""))
        try:
            if await _fetch(conn, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", name):
                raise BackupRefused(
                    f"the database {name} exists already: restore into a new one, "
                    "or over the job's source with --in-place"
                )
            await _fetch(conn, f"CREATE DATABASE {_quote(name)}")
            try:
                return await self._load(artefact, target)
            except BaseException:  # nothing half-restored is left looking good
                await _fetch(conn, f"DROP DATABASE IF EXISTS {_quote(name)}")
                raise
        finally:
            conn.close()

    async def _load(self, artefact: Path, target: str) -> dict[str, int]:
        db = _args(target)["db"]
        async with _options(target) as options:
            await _pipeline(
                ["gzip", "-dc"],
                ["mariadb", options, "--batch", f"--database={db}"],
                source=artefact,
                into=None,
            )
        conn = await _connect(target)
        try:
            return await table_counts(conn, db)
        finally:
            conn.close()


KIND = EngineKind("mariadb", "sql.gz", MariadbEngine)
