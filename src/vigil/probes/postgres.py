"""``postgres``: connect, ``SELECT 1``, and optionally a query whose answer is judged."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field

from vigil.probes.base import Observation, ProbeKind
from vigil.probes.query import (
    QueryCheck,
    QueryExpect,
    connect_failure,
    elapsed_ms,
    endpoint,
    first_line,
    scrub,
    verdict,
)

__all__ = ["KIND", "PostgresCheck", "PostgresProbe", "QueryExpect"]

DEFAULT_PORT = 5432


class PostgresCheck(QueryCheck):
    kind: ClassVar[str] = "postgres"

    postgres: str = Field(description="Connection URL, e.g. postgresql://user@host:5432/db.")


class PostgresProbe:
    """A new connection for every observation, closed after it.

    A pool would hide exactly what a health check is for: whether the server still accepts a
    new connection (max_connections, pg_hba.conf, credentials, a restart in between).

    Values: ``connect_ms`` (connect and authenticate), ``query_ms`` (``SELECT 1`` plus the
    check's query) and ``value`` when the query's first value is a number.
    """

    async def observe(self, check: PostgresCheck) -> Observation:
        import asyncpg

        url = check.postgres
        start = time.perf_counter()
        try:
            # asyncpg's own connect timeout defaults to 60s; the check's keeps it in step with the
            # engine's bound on the attempt instead of undercutting or outliving it.
            conn = await asyncpg.connect(url, timeout=check.timeout)
        except TimeoutError:
            raise  # the engine words a timeout the same way for every kind
        except OSError as err:
            return Observation.failed(scrub(connect_failure(err, endpoint(url, DEFAULT_PORT)), url))
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            # Server refusals already read well: 'password authentication failed for user "x"'.
            return Observation.failed(scrub(first_line(err), url))
        connect_ms = elapsed_ms(start)
        try:
            observation = await _query(conn, check, connect_ms)
        except BaseException:
            # Cancelled by the engine's timeout, or the connection broke: a polite close would
            # wait on a server that may never answer, so drop the socket at once.
            conn.terminate()
            raise
        await conn.close(timeout=check.timeout)
        if observation.reason:
            return Observation(observation.ok, scrub(observation.reason, url), observation.values)
        return observation

    async def close(self) -> None:
        return None  # nothing is kept between observations


async def _query(conn: Any, check: PostgresCheck, connect_ms: float) -> Observation:
    import asyncpg

    start = time.perf_counter()
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        return Observation.failed(f"SELECT 1 failed: {first_line(err)}", connect_ms=connect_ms)
    if check.query is None:
        return Observation.passed(connect_ms=connect_ms, query_ms=elapsed_ms(start))
    try:
        row = await conn.fetchrow(check.query)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        return Observation.failed(f"query failed: {first_line(err)}", connect_ms=connect_ms)
    return verdict(row, check.expect, connect_ms=connect_ms, query_ms=elapsed_ms(start))


KIND = ProbeKind("postgres", PostgresCheck, PostgresProbe, loads=("asyncpg",))
