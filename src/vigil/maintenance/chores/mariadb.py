"""The chores on MariaDB and MySQL, over aiomysql, where they have PostgreSQL's: sizes from
``information_schema.TABLES`` and ``mysql.innodb_index_stats``, sessions from the process list,
``KILL CONNECTION`` for idle ones. No unused-index counts (the server keeps none without
performance_schema) and no VACUUM: each says so and what to use instead.

Sessions are those of the URL's database only, and never the one this module talks over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomysql

from vigil.errors import ProbeError
from vigil.maintenance.chores.model import (
    CONNECT_TIMEOUT,
    Bounds,
    ChoreFailed,
    ChoreUnsupported,
    IdleAsk,
    IdleSweep,
    Relation,
    Session,
    Sizes,
    Vacuum,
    clip,
)
from vigil.probes.mysql import connect_args
from vigil.probes.query import connect_failure, endpoint, scrub

_TABLES = """
SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS bytes, TABLE_ROWS
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
ORDER BY bytes DESC, TABLE_NAME LIMIT %s"""
_INDEXES = """
SELECT database_name, index_name, table_name, stat_value * @@innodb_page_size AS bytes
FROM mysql.innodb_index_stats WHERE database_name = DATABASE() AND stat_name = 'size'
ORDER BY bytes DESC, table_name, index_name LIMIT %s"""
_SESSIONS = """
SELECT ID, COALESCE(USER, ''), COALESCE(DB, ''), COALESCE(HOST, ''), COALESCE(STATE, ''), TIME, INFO
FROM information_schema.PROCESSLIST
WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = %s AND TIME >= %s"""
_NO_USAGE = "MariaDB keeps no index usage without performance_schema; unused indexes are not listed"


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[aiomysql.Cursor]:
    try:
        args = connect_args(url)
    except ProbeError as err:
        raise ChoreFailed(str(err)) from None
    try:
        conn = await aiomysql.connect(**args, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
    except aiomysql.MySQLError as err:
        cause = err.__cause__
        reason = connect_failure(cause, endpoint(url, 3306)) if isinstance(cause, OSError) else _message(err)
        raise ChoreFailed(scrub(reason, url)) from None
    try:
        async with conn.cursor() as cursor:
            yield cursor
    except aiomysql.MySQLError as err:
        raise ChoreFailed(scrub(_message(err), url)) from None
    finally:
        conn.close()


def _message(err: BaseException) -> str:
    return str(err.args[-1]) if err.args else str(err)


def _session(row: Any, redact: Callable[[str], str]) -> Session:
    state = "idle" if row[4] == "" and row[6] is None else row[4] or "active"
    return Session(
        int(row[0]), row[1], row[2], row[3] or "local", "", state, float(row[5]), clip(row[6], redact)
    )


class MariadbChores:
    async def sizes(self, url: str, bounds: Bounds) -> Sizes:
        async with connected(url) as cursor:
            await cursor.execute(_TABLES, (bounds.rows,))
            tables = await cursor.fetchall()
            try:
                await cursor.execute(_INDEXES, (bounds.rows,))
                indexes = await cursor.fetchall()
                note = _NO_USAGE
            except aiomysql.MySQLError as err:  # no SELECT on the mysql schema
                indexes, note = (), f"{_NO_USAGE}; index sizes: {_message(err)}"
            await cursor.execute("SELECT DATABASE()")
            database = (await cursor.fetchone())[0] or ""
        return Sizes(
            database,
            [Relation(r[0], r[1], int(r[2]), rows=None if r[3] is None else int(r[3])) for r in tables],
            [Relation(r[0], r[1], int(r[3]), table=r[2]) for r in indexes],
            None,
            note,
        )

    async def long_queries(
        self, url: str, longer_than: float, bounds: Bounds, redact: Callable[[str], str]
    ) -> list[Session]:
        async with connected(url) as cursor:
            await cursor.execute(
                f"{_SESSIONS} ORDER BY TIME DESC, ID LIMIT %s", ("Query", longer_than, bounds.rows)
            )
            rows = await cursor.fetchall()
        return [_session(r, redact) for r in rows]

    async def kill_idle(self, url: str, ask: IdleAsk) -> IdleSweep:
        async with connected(url) as cursor:
            query = f"{_SESSIONS} ORDER BY TIME DESC, ID LIMIT %s"
            await cursor.execute(query, ("Sleep", ask.older_than, ask.reach))
            sessions, mine = ask.theirs([_session(r, ask.redact) for r in await cursor.fetchall()])
            killed: list[int] = []
            failed: dict[int, str] = {}
            for session in sessions if ask.kill else []:
                # Still asleep and past the age right now, or it is left alone.
                await cursor.execute(f"{_SESSIONS} AND ID = %s", ("Sleep", ask.older_than, session.id))
                if await cursor.fetchone() is None:
                    failed[session.id] = "no longer idle, or already gone"
                    continue
                try:
                    await cursor.execute("KILL CONNECTION %s", (session.id,))
                except aiomysql.MySQLError as err:
                    failed[session.id] = _message(err)
                    continue
                killed.append(session.id)
            await cursor.execute("SELECT DATABASE()")
            database = (await cursor.fetchone())[0] or ""
        return IdleSweep(database, ask.older_than, not ask.kill, sessions, killed, failed, mine)

    async def vacuum(self, url: str, tables: list[str], analyze: bool, longest: float) -> Vacuum:
        raise ChoreUnsupported(
            "vacuum is PostgreSQL's; on MariaDB run ANALYZE TABLE (statistics) or OPTIMIZE TABLE (space) "
            "in a runbook sql step"
        )
