"""``mysql``: MySQL or MariaDB — connect, ``SELECT 1``, optionally a query whose answer is judged."""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field

from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.query import QueryCheck, connect_failure, elapsed_ms, endpoint, first_line, scrub, verdict

DEFAULT_PORT = 3306
SCHEMES = ("mysql", "mariadb")
# Client-side error codes (2000 and up, e.g. 2003 "Can't connect") wrap a network error.
_CLIENT_ERRORS = 2000


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
        connect_ms = elapsed_ms(start)
        try:
            observation = await _query(conn, check, connect_ms)
        except BaseException:
            conn.close()  # cancelled or broken: no polite goodbye to a server that may not answer
            raise
        # COM_QUIT rather than a dropped socket: MariaDB counts and logs every aborted connection.
        await conn.ensure_closed()
        if observation.reason:
            return Observation(observation.ok, scrub(observation.reason, url), observation.values)
        return observation

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


async def _query(conn: Any, check: MysqlCheck, connect_ms: float) -> Observation:
    import aiomysql

    start = time.perf_counter()
    async with conn.cursor() as cursor:
        try:
            await cursor.execute("SELECT 1")
            await cursor.fetchall()
        except aiomysql.MySQLError as err:
            return Observation.failed(f"SELECT 1 failed: {_code_and_message(err)[1]}", connect_ms=connect_ms)
        if check.query is None:
            return Observation.passed(connect_ms=connect_ms, query_ms=elapsed_ms(start))
        try:
            await cursor.execute(check.query)
            row = await cursor.fetchone()
        except aiomysql.MySQLError as err:
            return Observation.failed(f"query failed: {_code_and_message(err)[1]}", connect_ms=connect_ms)
    return verdict(row, check.expect, connect_ms=connect_ms, query_ms=elapsed_ms(start))


def _code_and_message(err: Any) -> tuple[int, str]:
    """PyMySQL errors carry ``(code, message)`` in ``args``; anything else is described as itself."""
    args: tuple[Any, ...] = getattr(err, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return args[0], " ".join(str(args[1]).split())
    return 0, first_line(err)


KIND = ProbeKind("mysql", MysqlCheck, MysqlProbe, loads=("aiomysql",))
