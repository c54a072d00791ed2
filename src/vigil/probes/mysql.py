"""``mysql``: MySQL or MariaDB — connect, ``SELECT 1``, optionally a query whose answer is judged,
and with ``stats: true`` the server's health instead of ``SELECT 1``.

Stats values (each also a metric, ``vigil_mysql_<value>``; see ``METRICS``): ``connections_used``
(Threads_connected, this check's own left out), ``connections_max``, ``connections_used_ratio``,
``longest_query_seconds`` (from the process list: to the millisecond on MariaDB, whole seconds
on MySQL, which has no ``TIME_MS``), ``longest_transaction_seconds``
and ``blocked_transactions`` (InnoDB transactions waiting for a lock), ``database_size_bytes``
(tables and indexes of the URL's database, when it names one) and ``buffer_pool_hit_ratio``.
Other users' queries are seen only with the PROCESS privilege.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field

from vigil.errors import ProbeError
from vigil.probes.base import Metric, Observation, ProbeKind, metric
from vigil.probes.query import (
    QueryCheck,
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

DEFAULT_PORT = 3306
SCHEMES = ("mysql", "mariadb")
# Client-side error codes (2000 and up, e.g. 2003 "Can't connect") wrap a network error.
_CLIENT_ERRORS = 2000

STATUS = (
    "SHOW GLOBAL STATUS WHERE Variable_name IN "
    "('Threads_connected', 'Innodb_buffer_pool_read_requests', 'Innodb_buffer_pool_reads')"
)
# One statement, bounded by the server: MariaDB's SET STATEMENT or MySQL's optimizer hint. A
# statement's age: MariaDB's TIME_MS (milliseconds, fractional), MySQL's TIME (whole seconds).
MARIADB_AGE, MYSQL_AGE = "TIME_MS / 1000", "TIME"
STATS = """{prefix}SELECT {hint}
  @@max_connections AS connections_max,
  (SELECT coalesce(max({age}), 0) FROM information_schema.PROCESSLIST
    WHERE COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') AND ID <> CONNECTION_ID()) AS longest_query_seconds,
  (SELECT coalesce(max(timestampdiff(SECOND, trx_started, now())), 0) FROM information_schema.INNODB_TRX
    WHERE trx_mysql_thread_id <> CONNECTION_ID()) AS longest_transaction_seconds,
  (SELECT count(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT') AS blocked_transactions,
  IF(DATABASE() IS NULL, NULL, (SELECT coalesce(sum(DATA_LENGTH + INDEX_LENGTH), 0)
    FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE())) AS database_size_bytes"""


class MysqlCheck(QueryCheck):
    kind: ClassVar[str] = "mysql"

    mysql: str = Field(description="Connection URL, e.g. mysql://root@127.0.0.1:3306/test (or mariadb://).")


class MysqlProbe:
    """A new connection for every observation, closed after it (see ``PostgresProbe`` for why).

    Values: ``connect_ms``, ``query_ms`` (``SELECT 1`` plus the check's query) and ``value``
    when the query's first value is a number.
    """

    async def observe(self, check: MysqlCheck) -> Observation:
        import aiomysql

        url = check.mysql
        start = time.perf_counter()
        # Built by hand rather than with aiomysql.connect(): its connect only cleans up after an
        # Exception, so a cancellation (the engine's timeout) mid-handshake would leak the socket.
        conn = aiomysql.Connection(**connect_args(url), connect_timeout=check.timeout, autocommit=True)
        try:
            await conn._connect()
        except aiomysql.MySQLError as err:
            return Observation.failed(scrub(_connect_reason(err, url), url))
        except BaseException:
            conn.close()
            raise
        return await observe_on(_Mysql(conn, check.timeout), check, url, elapsed_ms(start))

    async def close(self) -> None:
        return None  # nothing is kept between observations


def connect_args(url: str) -> dict[str, Any]:
    """aiomysql's connection arguments from ``mysql://user:pass@host:port/db``."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ProbeError("not a mysql:// or mariadb:// URL")
    if parts.query:
        raise ProbeError("options after ? in a mysql URL are not supported")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ProbeError("the port in the mysql URL is not a number") from None
    database = unquote(parts.path.lstrip("/"))
    return {
        "host": parts.hostname or "localhost",
        "port": port,
        # No user means the driver's default (the login name), as with the mysql client.
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else "",
        "db": database or None,
    }


def _connect_reason(err: Any, url: str) -> str:
    code, message = _code_and_message(err)
    cause = err.__cause__
    if code >= _CLIENT_ERRORS and isinstance(cause, TimeoutError):
        raise TimeoutError from err  # the engine words a timeout the same way for every kind
    if code >= _CLIENT_ERRORS and isinstance(cause, OSError):
        return connect_failure(cause, endpoint(url, DEFAULT_PORT))
    # Server refusals read well as they are: "Access denied for user 'x'@'host' (using password: YES)".
    return message


class _Mysql:
    """aiomysql's connection as the SQL probes use it."""

    def __init__(self, conn: Any, timeout: float) -> None:
        import aiomysql

        self.conn, self.timeout = conn, timeout
        self.errors: tuple[type[Exception], ...] = (aiomysql.MySQLError,)

    def describe(self, err: Exception) -> str:
        return _code_and_message(err)[1]

    async def select_one(self) -> None:
        await self.first_row("SELECT 1")

    async def stats(self) -> dict[str, float]:
        async with self.conn.cursor() as cursor:
            return await _stats(self.conn, cursor, self.timeout)

    async def first_row(self, query: str) -> Any:
        async with self.conn.cursor() as cursor:
            await cursor.execute(query)
            return await cursor.fetchone()

    async def close(self) -> None:
        # COM_QUIT rather than a dropped socket: MariaDB counts and logs every aborted connection.
        await self.conn.ensure_closed()

    def drop(self) -> None:
        self.conn.close()


async def _stats(conn: Any, cursor: Any, bound: float) -> dict[str, float]:
    await cursor.execute(STATUS)
    status = {str(name).lower(): as_number(value) for name, value in await cursor.fetchall()}
    if "mariadb" in conn.get_server_info().lower():
        prefix, hint, age = f"SET STATEMENT max_statement_time={bound:g} FOR ", "", MARIADB_AGE
    else:
        prefix, hint, age = "", f"/*+ MAX_EXECUTION_TIME({max(1, round(bound * 1000))}) */", MYSQL_AGE
    await cursor.execute(STATS.format(prefix=prefix, hint=hint, age=age))
    row = await cursor.fetchone()
    names = [column[0] for column in cursor.description]
    values = {
        name: number for name, raw in zip(names, row, strict=True) if (number := as_number(raw)) is not None
    }
    threads = status.get("threads_connected")
    if threads is not None:
        values["connections_used"] = max(0.0, threads - 1)  # this check's own connection left out
        used = ratio(values["connections_used"], values.get("connections_max"))
        if used is not None:
            values["connections_used_ratio"] = used
    requests, reads = status.get("innodb_buffer_pool_read_requests"), status.get("innodb_buffer_pool_reads")
    if requests and reads is not None:
        values["buffer_pool_hit_ratio"] = 1.0 - reads / requests
    return values


def _code_and_message(err: Any) -> tuple[int, str]:
    """PyMySQL errors carry ``(code, message)`` in ``args``; anything else is described as itself."""
    args: tuple[Any, ...] = getattr(err, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return args[0], " ".join(str(args[1]).split())
    return 0, first_line(err)


METRICS: tuple[Metric, ...] = (
    *query_metrics("mysql"),
    metric("mysql", "connections_used", "Threads_connected, this check's own connection left out."),
    metric("mysql", "connections_max", "The server's max_connections."),
    metric("mysql", "connections_used_ratio", "connections_used / connections_max."),
    metric(
        "mysql",
        "longest_query_seconds",
        "Age of the longest-running statement (0: none); to the millisecond on MariaDB, whole seconds on MySQL.",
    ),
    metric("mysql", "longest_transaction_seconds", "Age of the oldest open InnoDB transaction (0: none)."),
    metric("mysql", "blocked_transactions", "InnoDB transactions waiting for a lock another one holds."),
    metric("mysql", "database_size_bytes", "Data and indexes of the URL's database."),
    metric("mysql", "buffer_pool_hit_ratio", "Share of InnoDB page reads served from the buffer pool."),
)

KIND = ProbeKind("mysql", MysqlCheck, MysqlProbe, METRICS, loads=("aiomysql",))
