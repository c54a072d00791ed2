"""``postgres``: connect, ``SELECT 1``, optionally a query whose answer is judged, and with
``stats: true`` the server's health in one query (``STATS``) instead of ``SELECT 1``.

Stats values (each also a metric, ``vigil_postgres_<value>``; see ``METRICS``):
``connections_used``, ``connections_max``, ``connections_used_ratio``, ``longest_query_seconds``,
``longest_transaction_seconds``, ``blocked_backends``, ``database_size_bytes``,
``cache_hit_ratio`` (once the database has read a block), ``replicas`` (standbys streaming from
this server) and ``replication_lag_seconds`` (where there is a standby, or on a standby).
Other users' sessions are seen in full only by a superuser or a member of ``pg_monitor``.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field

from vigil.probes.base import Metric, Observation, ProbeKind, metric
from vigil.probes.query import (
    QueryCheck,
    QueryExpect,
    as_number,
    connect_failure,
    elapsed_ms,
    endpoint,
    first_line,
    observe_on,
    query_metrics,
    ratio,
    scrub,
)

__all__ = ["KIND", "PostgresCheck", "PostgresProbe", "QueryExpect"]

DEFAULT_PORT = 5432

# Client sessions other than this check's own. `now()` is this statement's start, so a session
# that began a moment later gives a small negative age, clamped to 0 when read.
_OTHERS = "backend_type = 'client backend' AND pid <> pg_backend_pid()"
STATS = f"""
SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE {_OTHERS}) AS connections_used,
  current_setting('max_connections')::int AS connections_max,
  (SELECT coalesce(extract(epoch FROM max(now() - query_start)), 0) FROM pg_stat_activity
    WHERE state = 'active' AND {_OTHERS}) AS longest_query_seconds,
  (SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0) FROM pg_stat_activity
    WHERE {_OTHERS}) AS longest_transaction_seconds,
  (SELECT count(*) FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0) AS blocked_backends,
  pg_database_size(current_database()) AS database_size_bytes,
  (SELECT blks_hit::float8 / nullif(blks_hit + blks_read, 0) FROM pg_stat_database
    WHERE datname = current_database()) AS cache_hit_ratio,
  (SELECT count(*) FROM pg_stat_replication) AS replicas,
  CASE WHEN pg_is_in_recovery()
    -- A standby that has replayed all it received is not behind, however long ago the last
    -- transaction was (an idle primary sends none); else it is behind by the time since it
    -- replayed one.
    THEN CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
      ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
    -- A standby that has caught up shows no lag (NULL) after a while: that is 0.
    ELSE (SELECT coalesce(extract(epoch FROM max(replay_lag)), 0) FROM pg_stat_replication
          HAVING count(*) > 0)
  END AS replication_lag_seconds
"""
_AGES = ("longest_query_seconds", "longest_transaction_seconds", "replication_lag_seconds")


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
            conn = await asyncpg.connect(url, timeout=check.timeout, server_settings=_settings(check))
        except TimeoutError:
            raise  # the engine words a timeout the same way for every kind
        except OSError as err:
            return Observation.failed(scrub(connect_failure(err, endpoint(url, DEFAULT_PORT)), url))
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            # Server refusals already read well: 'password authentication failed for user "x"'.
            return Observation.failed(scrub(first_line(err), url))
        return await observe_on(_Postgres(conn, check.timeout), check, url, elapsed_ms(start))

    async def close(self) -> None:
        return None  # nothing is kept between observations


def _settings(check: PostgresCheck) -> dict[str, str]:
    # The stats touch every session and the database's files: the server gives up on them (and on
    # the check's query) when the check does, rather than working on for nobody.
    return {"statement_timeout": str(max(1, round(check.timeout * 1000)))} if check.stats else {}


class _Postgres:
    """asyncpg's connection as the SQL probes use it."""

    def __init__(self, conn: Any, timeout: float) -> None:
        import asyncpg

        self.conn, self.timeout = conn, timeout
        self.errors: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError)

    def describe(self, err: Exception) -> str:
        return first_line(err)

    async def select_one(self) -> None:
        await self.conn.fetchval("SELECT 1")

    async def stats(self) -> dict[str, float]:
        return stats_values(await self.conn.fetchrow(STATS))

    async def first_row(self, query: str) -> Any:
        return await self.conn.fetchrow(query)

    async def close(self) -> None:
        await self.conn.close(timeout=self.timeout)

    def drop(self) -> None:
        self.conn.terminate()


def stats_values(row: Any) -> dict[str, float]:
    """The stats row's numbers by column; a column the server left NULL is left out."""
    values = {name: number for name, raw in row.items() if (number := as_number(raw)) is not None}
    for name in _AGES:
        if name in values:
            values[name] = max(0.0, values[name])
    used = ratio(values.get("connections_used"), values.get("connections_max"))
    if used is not None:
        values["connections_used_ratio"] = used
    return values


METRICS: tuple[Metric, ...] = (
    *query_metrics("postgres"),
    metric("postgres", "connections_used", "Client sessions connected, this check's own left out."),
    metric("postgres", "connections_max", "The server's max_connections."),
    metric("postgres", "connections_used_ratio", "connections_used / connections_max."),
    metric("postgres", "longest_query_seconds", "Age of the longest-running active query (0: none)."),
    metric("postgres", "longest_transaction_seconds", "Age of the oldest open transaction (0: none)."),
    metric("postgres", "blocked_backends", "Sessions waiting for a lock another session holds."),
    metric("postgres", "database_size_bytes", "Size of the check's database on disk."),
    metric("postgres", "cache_hit_ratio", "Share of the database's block reads found in shared buffers."),
    metric("postgres", "replicas", "Standbys streaming from this server."),
    metric(
        "postgres",
        "replication_lag_seconds",
        "On a primary with standbys, the largest replay lag among them; on a standby, 0 when it "
        "has replayed all it received, else the time since the last transaction it replayed.",
    ),
)


KIND = ProbeKind("postgres", PostgresCheck, PostgresProbe, METRICS, loads=("asyncpg",))
