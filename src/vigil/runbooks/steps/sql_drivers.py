"""Running statements on PostgreSQL (asyncpg) and MySQL/MariaDB (aiomysql), connected as the
probes connect, and printing what comes back as a small aligned table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiomysql
import asyncpg

from vigil.errors import ProbeError, VigilError
from vigil.probes.mysql import connect_args
from vigil.probes.query import connect_failure, endpoint, first_line, scrub
from vigil.runbooks.transcript import Transcript

MAX_ROWS = 200
MAX_CELL = 80
CONNECT_TIMEOUT = 10.0


class StatementFailed(VigilError):
    """A connection or a statement failed; the message is the step's reason."""


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], more: bool) -> list[str]:
    """``columns`` over ``rows`` aligned like psql's, then the row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    count = len(rows)
    lines.append(f"(first {count} rows shown)" if more else f"({count} row{'' if count == 1 else 's'})")
    return lines


def _cell(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _echo(statement: str, out: Transcript) -> None:
    lines = [
        line.strip() for line in statement.splitlines() if line.strip() and not line.strip().startswith("--")
    ]
    out.line(f"=> {lines[0] if lines else ''}{' …' if len(lines) > 1 else ''}")


async def postgres(url: str, statements: list[str], out: Transcript) -> None:
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise StatementFailed(scrub(connect_failure(err, endpoint(url, 5432)), url)) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as err:
        raise StatementFailed(scrub(first_line(err), url)) from None
    try:
        for number, statement in enumerate(statements, 1):
            _echo(statement, out)
            try:
                prepared = await conn.prepare(statement)
                if prepared.get_attributes():
                    async with conn.transaction():
                        rows = await (await prepared.cursor()).fetch(MAX_ROWS + 1)
                    names = [a.name for a in prepared.get_attributes()]
                    for line in table(names, [tuple(r) for r in rows[:MAX_ROWS]], len(rows) > MAX_ROWS):
                        out.line(line)
                else:
                    out.line(await conn.execute(statement))
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                out.line(f"ERROR: {err}")
                raise StatementFailed(f"statement {number} failed: {first_line(err)}") from None
    except StatementFailed:
        await conn.close(timeout=CONNECT_TIMEOUT)
        raise
    except BaseException:
        conn.terminate()  # cancelled (a timeout) or broken: no goodbye to a server that may not answer
        raise
    await conn.close(timeout=CONNECT_TIMEOUT)


async def mysql(url: str, statements: list[str], out: Transcript) -> None:
    try:
        conn = aiomysql.Connection(**connect_args(url), connect_timeout=CONNECT_TIMEOUT, autocommit=True)
    except ProbeError as err:
        raise StatementFailed(str(err)) from None
    try:
        try:
            await conn._connect()
        except aiomysql.MySQLError as err:
            cause = err.__cause__
            reason = connect_failure(cause, endpoint(url, 3306)) if isinstance(cause, OSError) else str(err)
            raise StatementFailed(scrub(reason, url)) from None
        async with conn.cursor() as cursor:
            for number, statement in enumerate(statements, 1):
                _echo(statement, out)
                try:
                    await cursor.execute(statement)
                except aiomysql.MySQLError as err:
                    out.line(f"ERROR: {err.args[-1] if err.args else err}")
                    raise StatementFailed(
                        f"statement {number} failed: {err.args[-1] if err.args else err}"
                    ) from None
                if cursor.description:
                    rows = await cursor.fetchmany(MAX_ROWS + 1)
                    names = [d[0] for d in cursor.description]
                    for line in table(names, rows[:MAX_ROWS], len(rows) > MAX_ROWS):
                        out.line(line)
                else:
                    out.line(f"OK, {cursor.rowcount} row{'' if cursor.rowcount == 1 else 's'} affected")
    except BaseException:
        conn.close()
        raise
    await conn.ensure_closed()


DRIVERS: dict[str, Callable[[str, list[str], Transcript], Awaitable[None]]] = {
    "postgresql": postgres,
    "postgres": postgres,
    "mysql": mysql,
    "mariadb": mysql,
}
