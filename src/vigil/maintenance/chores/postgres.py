"""The chores on PostgreSQL, over asyncpg: sizes from ``pg_class`` and ``pg_stat_user_indexes``,
sessions from ``pg_stat_activity``, ``pg_terminate_backend`` and ``VACUUM``.

Sessions are those of the URL's database only, client backends only, and never the one this
module talks over. An idle session is ended only if it is still idle, and still past the age,
at the moment it is ended.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from vigil.maintenance.chores.model import (
    CONNECT_TIMEOUT,
    MOST_TABLES,
    READ_TIMEOUT,
    Bounds,
    ChoreFailed,
    ChoreInputError,
    IdleAsk,
    IdleSweep,
    Relation,
    Session,
    Sizes,
    Vacuum,
    clip,
)
from vigil.probes.query import connect_failure, endpoint, first_line, scrub

_TABLES = """
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid) AS bytes, greatest(c.reltuples, 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY bytes DESC, 1, 2 LIMIT $1"""
_INDEXES = """
SELECT s.schemaname, s.indexrelname, s.relname, pg_relation_size(s.indexrelid) AS bytes, s.idx_scan
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE $2 OR (s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary)
ORDER BY bytes DESC, 1, 2 LIMIT $1"""
_SESSIONS = """
SELECT pid, coalesce(usename, ''), coalesce(datname, ''), host(client_addr), client_port,
  coalesce(application_name, ''), coalesce(state, ''),
  extract(epoch FROM now() - {since})::float8 AS seconds, query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()
  AND {what} AND {since} < now() - make_interval(secs => $1)"""
_ACTIVE = _SESSIONS.format(since="query_start", what="state = 'active'")
_IDLE = _SESSIONS.format(since="state_change", what="state LIKE 'idle%'")
_END = f"SELECT pg_terminate_backend(pid) FROM ({_IDLE}) AS idle WHERE pid = $2"


@asynccontextmanager
async def connected(url: str, statement_timeout: float = READ_TIMEOUT) -> AsyncIterator[asyncpg.Connection]:
    settings = {"application_name": "vigil", "statement_timeout": str(int(statement_timeout * 1000))}
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, server_settings=settings)
    except OSError as err:
        raise ChoreFailed(scrub(connect_failure(err, endpoint(url, 5432)), url)) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, TimeoutError) as err:
        raise ChoreFailed(scrub(f"cannot connect: {first_line(err) or 'timed out'}", url)) from None
    try:
        yield conn
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        raise ChoreFailed(scrub(first_line(err), url)) from None
    finally:
        conn.terminate()  # no goodbye needed: nothing is left to commit


def _session(row: Any, redact: Callable[[str], str]) -> Session:
    client = f"{row[3]}:{row[4]}" if row[3] else "local"
    return Session(row[0], row[1], row[2], client, row[5], row[6], round(row[7], 3), clip(row[8], redact))


class PostgresChores:
    async def sizes(self, url: str, bounds: Bounds) -> Sizes:
        async with connected(url) as conn:
            tables = await conn.fetch(_TABLES, bounds.rows)
            indexes = await conn.fetch(_INDEXES, bounds.rows, True)
            unused = await conn.fetch(_INDEXES, bounds.rows, False)
            database = await conn.fetchval("SELECT current_database()")
            since = await conn.fetchval(
                "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
            )
        note = (
            f"index scans counted since {since.isoformat()}"
            if since
            else "index scans counted since the server's start"
        )
        return Sizes(
            database,
            [Relation(r[0], r[1], r[2], rows=r[3]) for r in tables],
            [Relation(r[0], r[1], r[3], table=r[2], scans=r[4]) for r in indexes],
            [Relation(r[0], r[1], r[3], table=r[2], scans=r[4]) for r in unused],
            note,
        )

    async def long_queries(
        self, url: str, longer_than: float, bounds: Bounds, redact: Callable[[str], str]
    ) -> list[Session]:
        async with connected(url) as conn:
            rows = await conn.fetch(f"{_ACTIVE} ORDER BY query_start LIMIT $2", longer_than, bounds.rows)
        return [_session(r, redact) for r in rows]

    async def kill_idle(self, url: str, ask: IdleAsk) -> IdleSweep:
        async with connected(url) as conn:
            rows = await conn.fetch(f"{_IDLE} ORDER BY state_change LIMIT $2", ask.older_than, ask.reach)
            sessions, mine = ask.theirs([_session(r, ask.redact) for r in rows])
            killed: list[int] = []
            failed: dict[int, str] = {}
            for session in sessions if ask.kill else []:
                try:
                    ended = await conn.fetchval(_END, ask.older_than, session.id)
                except asyncpg.PostgresError as err:
                    failed[session.id] = first_line(err)
                    continue
                if ended:
                    killed.append(session.id)
                else:
                    failed[session.id] = "no longer idle, or already gone"
            database = await conn.fetchval("SELECT current_database()")
        return IdleSweep(database, ask.older_than, not ask.kill, sessions, killed, failed, mine)

    async def vacuum(self, url: str, tables: list[str], analyze: bool, longest: float) -> Vacuum:
        if len(tables) > MOST_TABLES:
            raise ChoreInputError(f"at most {MOST_TABLES} tables to one vacuum, not {len(tables)}")
        async with connected(url, statement_timeout=longest) as conn:
            names = [await _table(conn, t) for t in tables]
            started = time.monotonic()
            await conn.execute(f"VACUUM{' (ANALYZE)' if analyze else ''} {', '.join(names)}".rstrip())
            seconds = time.monotonic() - started
            database = await conn.fetchval("SELECT current_database()")
        return Vacuum(database, names, analyze, round(seconds, 3))


async def _table(conn: asyncpg.Connection, name: str) -> str:
    """``name`` (``table`` or ``schema.table``) as a quoted identifier of a table that exists."""
    try:
        found = await conn.fetchval(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'm')",
            name,
        )
    except asyncpg.PostgresError as err:
        raise ChoreInputError(f"table {name!r}: {first_line(err)}") from None
    if found is None:
        raise ChoreInputError(f"no table {name!r} in this database; name it as table or schema.table")
    return str(found)
