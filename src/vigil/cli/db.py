"""``vigil db vacuum|sizes|kill-idle|long-queries``: a runbook's database chores from a shell.

``--db`` is a URL or what the stack file calls a database (a check, a service with one database
check, an ``env:`` variable); without it, ``DATABASE_URL`` or the stack file's only database check.
``kill-idle`` lists the sessions it would end and ends them only with ``--yes``. A confirmed
``kill-idle`` and a ``vacuum`` are written to the audit log (``vigil.audit``, on stderr here) with
``--as``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.app import fail
from vigil.cli.logs import configure_logging
from vigil.cli.options import ActorOption, JsonOption, StackOption
from vigil.config.durations import parse_duration
from vigil.errors import VigilError

if TYPE_CHECKING:
    from vigil.maintenance.chores.service import DatabaseChores

T = TypeVar("T")
db_app = typer.Typer(
    help="Database chores: vacuum, sizes, idle sessions, long queries.", no_args_is_help=True
)


def _seconds(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


Target = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The database: a postgresql:// or mysql:// URL, or a check, service or env: variable of the "
        "stack file; default: DATABASE_URL, else the stack file's only database check.",
    ),
]
Limit = Annotated[int, typer.Option("--limit", help="At most this many rows (1 to 500).")]


def _run(
    config: Path | None,
    target: str | None,
    work: Callable[[DatabaseChores], Coroutine[Any, Any, T]],
    actor: str = "vigil",
) -> T:
    from vigil.config.discovery import find_stack_file, stack_file_or_fail
    from vigil.config.load import load_stack
    from vigil.maintenance.chores.service import chores_for

    try:
        needs_stack = config is not None or not (target and "://" in target)
        file = stack_file_or_fail(config, or_db=True) if config is not None else find_stack_file()
        stack = load_stack(file) if file is not None and needs_stack else None
        return asyncio.run(work(chores_for(target, stack, os.environ, asked_as="--db ", actor=actor)))
    except VigilError as err:
        fail(err)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> None:
    typer.echo(title)
    table = Table(box=None, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(highlight=False).print(table)


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _mb(size: int) -> str:
    return f"{size / 1048576:,.1f} MB" if size >= 1048576 else f"{size / 1024:,.0f} kB"


@db_app.command("sizes")
def sizes(
    target: Target = None, limit: Limit = 20, config: StackOption = None, as_json: JsonOption = False
) -> None:
    """The largest tables and indexes, and indexes never scanned (PostgreSQL)."""
    found = _run(config, target, lambda chores: chores.sizes(limit))
    if as_json:
        _json(found.as_dict())
        return
    _table(
        ("table", "size", "rows"),
        [(f"{t.schema}.{t.name}", _mb(t.bytes), t.rows) for t in found.tables],
        "tables",
    )
    indexes = [(f"{i.schema}.{i.name}", i.table, _mb(i.bytes), i.scans) for i in found.indexes]
    _table(("index", "on", "size", "scans"), indexes, "indexes")
    if found.unused_indexes is None:
        typer.echo(found.note)
        return
    unused = [(f"{i.schema}.{i.name}", i.table, _mb(i.bytes)) for i in found.unused_indexes]
    _table(("index", "on", "size"), unused, f"unused indexes ({found.note})")


@db_app.command("long-queries")
def long_queries(
    longer_than: Annotated[
        str, typer.Option("--longer-than", help="Running at least this long, e.g. 30s.")
    ] = "1m",
    target: Target = None,
    limit: Limit = 20,
    config: StackOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queries running longer than --longer-than, the oldest first."""
    seconds = _seconds(longer_than)
    found = _run(config, target, lambda chores: chores.long_queries(seconds, limit))
    if as_json:
        _json([s.as_dict() for s in found])
        return
    rows = [(s.id, s.user, s.client, f"{s.seconds:,.0f}s", s.query) for s in found]
    _table(("id", "user", "client", "running", "query"), rows, f"{len(found)} running over {longer_than}")


@db_app.command("kill-idle")
def kill_idle(
    older_than: Annotated[str, typer.Option("--older-than", help="Idle at least this long, e.g. 5m.")] = "5m",
    yes: Annotated[bool, typer.Option("--yes", help="End them; without it they are only listed.")] = False,
    keep: Annotated[
        list[int] | None,
        typer.Option("--keep", help="A session id never to end (yours over a socket); repeatable."),
    ] = None,
    target: Target = None,
    limit: Limit = 20,
    config: StackOption = None,
    as_json: JsonOption = False,
    actor: ActorOption = "cli",
) -> None:
    """List sessions idle longer than --older-than; with --yes, end them. Never this command's
    own sessions, nor any --keep."""
    seconds = _seconds(older_than)
    configure_logging()  # the audit line of a confirmed run
    found = _run(
        config,
        target,
        lambda chores: chores.kill_idle(seconds, kill=yes, limit=limit, keep=frozenset(keep or ())),
        actor,
    )
    if as_json:
        _json(found.as_dict())
    else:
        rows = [
            (
                s.id,
                s.user,
                s.client,
                s.state,
                f"{s.seconds:,.0f}s",
                _fate(s.id, found.killed, found.failed, yes),
            )
            for s in found.sessions
        ]
        _table(("id", "user", "client", "state", "idle", "done"), rows, f"{len(rows)} idle over {older_than}")
        if not yes:
            typer.echo(f"dry run: nothing ended; run again with --yes to end {len(rows)} session(s)")
    if found.failed:
        raise typer.Exit(1)


def _fate(session: int, killed: list[int], failed: dict[int, str], yes: bool) -> str:
    if not yes:
        return "would end"
    return "ended" if session in killed else f"not ended: {failed.get(session, '')}"


@db_app.command("vacuum")
def vacuum(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables (or schema.table); none: the whole database.")
    ] = None,
    analyze: Annotated[bool, typer.Option("--analyze/--no-analyze", help="ANALYZE as well.")] = True,
    longest: Annotated[str, typer.Option("--timeout", help="Give up after this long, e.g. 30m.")] = "1h",
    target: Target = None,
    config: StackOption = None,
    as_json: JsonOption = False,
    actor: ActorOption = "cli",
) -> None:
    """VACUUM (ANALYZE) the named tables or the whole database."""
    seconds = _seconds(longest)
    configure_logging()  # the audit line
    done = _run(config, target, lambda chores: chores.vacuum(tables, analyze=analyze, longest=seconds), actor)
    if as_json:
        _json(done.as_dict())
        return
    what = ", ".join(done.tables) or f"database {done.database}"
    typer.echo(f"vacuumed{' and analyzed' if done.analyze else ''} {what} in {done.seconds:,.1f}s")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
