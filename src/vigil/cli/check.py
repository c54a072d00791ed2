"""``vigil check``: one pass of every check, a table, and an exit code for CI and cron."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.app import fail
from vigil.cli.options import ConfigOption, DbOption, JsonOption
from vigil.errors import VigilError

if TYPE_CHECKING:
    from vigil.probes.base import Result

# By ``probes.base.Status`` (its values: the probes load when the command runs).
_MARKS = {"ok": "[green]ok[/]", "failed": "[red]FAIL[/]", "not_judged": "[yellow]not judged[/]"}


def check(
    config: ConfigOption = Path("vigil.yaml"),
    as_json: JsonOption = False,
    db: DbOption = None,
    only: Annotated[
        list[str] | None, typer.Argument(help="Services or service.check ids to run (default: all).")
    ] = None,
) -> None:
    """Run every check once; exit 0 when all pass, 1 when any fails, 2 when the stack file is wrong.
    A heartbeat check is judged from the pings in Vigil's store (`vigil up` receives them)."""
    # The schema loads when the command runs, not when `vigil --help` lists it.
    from vigil.config.load import load_stack
    from vigil.engine.once import run_once
    from vigil.store.database import stack_store_url

    try:
        stack = load_stack(config)
        store = db or stack_store_url(config, stack.model.store.url)
        results = asyncio.run(run_once(stack, only=only or (), store=store))
    except VigilError as err:
        fail(err)
    if only and not results:
        fail(VigilError(f"no check matches {', '.join(only)}; see the services in {config}"))
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        Console(highlight=False).print(_table(results))
    raise typer.Exit(0 if all(r.status != "failed" for r in results) else 1)


def _table(results: list[Result]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (
        ("service", "left"),
        ("check", "left"),
        ("ok", "left"),
        ("ms", "right"),
        ("reason", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in results:
        mark = _MARKS[r.status]
        table.add_row(r.service, r.check, mark, f"{r.duration_ms:.0f}", r.reason or "", end_section=False)
    return table


def register(app: typer.Typer) -> None:
    app.command()(check)
