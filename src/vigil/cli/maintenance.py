"""``vigil maintenance start|stop|list``: maintenance windows by hand, and the stack file's schedule;
``vigil maintenance checklist NAME``: a checklist of the stack file, its chores run.

During a window, matching alerts still open incidents but page no one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vigil.cli.options import DbOption, JsonOption
from vigil.cli.output import emit, print_table
from vigil.cli.silence import Actor, ConfigOpt, For, quiet_list, quiet_one, seconds

maintenance_app = typer.Typer(help="Start, stop and list maintenance windows.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="The window's name, e.g. db-upgrade.")]


@maintenance_app.command("start")
def start(
    name: Name,
    duration: For = "1h",
    match: Annotated[
        list[str] | None,
        typer.Option("--match", help="Only alerts matching this, e.g. service=api; repeatable."),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="What is being done.")] = None,
    actor: Actor = "cli",
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a window now; without --match it quiets every alert."""
    data = quiet_one(
        config,
        db,
        lambda quiet: quiet.maintenance.start(
            name, duration=seconds(duration), started_by=actor, matchers=match or (), comment=comment
        ),
    )
    scope = ", ".join(f"{m['name']}{m['op']}{m['value']}" for m in data["matchers"]) or "every alert"
    emit(data, as_json, f"maintenance {name} on until {_clock(data['ends_at'])} UTC for {scope}")


@maintenance_app.command("stop")
def stop(
    name: Name,
    actor: Actor = "cli",
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a window started by hand, now."""
    stopped = quiet_one(config, db, lambda quiet: quiet.maintenance.stop(name, actor))
    emit(stopped, as_json, f"maintenance {name} stopped")


@maintenance_app.command("list")
def list_(config: ConfigOpt = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Active windows, then the next run of each one the stack file schedules."""
    windows = quiet_list(config, db, lambda quiet: quiet.maintenance.list())
    if as_json:
        emit(windows, True, "")
        return
    print_table(("name", "state", "starts (UTC)", "ends (UTC)", "matchers", "source"), map(_row, windows))


def _row(w: dict[str, Any]) -> tuple[str, ...]:
    matchers = ", ".join(f"{m['name']}{m['op']}{m['value']}" for m in w["matchers"]) or "everything"
    state = "active" if w["active"] else "next"
    source = w["schedule"] or f"by {w['started_by']}"
    return w["name"], state, _clock(w["starts_at"]), _clock(w["ends_at"]), matchers, source


def _clock(iso: str) -> str:
    return iso[:16].replace("T", " ")


@maintenance_app.command("checklist")
def checklist(
    name: Annotated[str, typer.Argument(help="The checklist's name under maintenance.checklists.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Run the chores that change a database (vacuum, kill-idle) too.")
    ] = False,
    actor: Actor = "cli",
    config: ConfigOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Run a checklist's chores in order and list what is left to do by hand. Exit 0 every chore
    done, 1 one failed, 2 one needs --yes or the checklist is unknown."""
    import asyncio
    import json
    import os

    from vigil.cli.app import fail
    from vigil.cli.logs import configure_logging
    from vigil.config.discovery import stack_file_or_fail
    from vigil.config.load import load_stack
    from vigil.errors import VigilError
    from vigil.maintenance.checklists import ItemStatus, run_checklist

    configure_logging()  # the audit lines, on stderr
    try:
        stack = load_stack(stack_file_or_fail(config))
        outcomes = asyncio.run(run_checklist(stack, name, os.environ, actor=actor, confirmed=yes))
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps([o.as_dict() for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            typer.echo(
                f"[{outcome.status}] {outcome.item}" + (f": {outcome.reason}" if outcome.reason else "")
            )
            for line in outcome.output:
                typer.echo(f"    {line}")
    statuses = {o.status for o in outcomes}
    if ItemStatus.FAILED in statuses:
        raise typer.Exit(1)
    if ItemStatus.UNCONFIRMED in statuses:
        typer.echo("some chores change a database: run again with --yes to run them", err=True)
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(maintenance_app, name="maintenance")
