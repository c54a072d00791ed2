"""``vigil runbook``: list, show and run the procedures of the stack file's runbooks.

``run`` is a thin face over ``ProcedureRunner.run``: output streams to the terminal as the step
prints it; a step that needs confirmation asks on a terminal and is refused elsewhere (exit 2)
unless ``--yes`` is given. Exit codes: 0 every step succeeded, 1 one failed, 2 not started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from vigil.cli.app import fail
from vigil.cli.options import ActorOption, DbOption, JsonOption, StackOption
from vigil.cli.store_session import open_existing
from vigil.config.discovery import stack_file_or_fail
from vigil.errors import StepInputError, VigilError
from vigil.runbooks.outcome import RunExit, RunOutcome, RunRequest, StepStatus

if TYPE_CHECKING:
    from vigil.config.load import Stack
    from vigil.runbooks.library import Library

runbook_app = typer.Typer(help="List, show and run the procedures of your runbooks.", no_args_is_help=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _load(config: Path | None) -> tuple[Stack, Library]:
    """The stack file (``-c``, ``VIGIL_CONFIG``, or the nearest vigil.yaml up from here) and its runbooks."""
    # Loaded when a command runs, not when `vigil --help` lists this group.
    from vigil.config.load import load_stack
    from vigil.runbooks.library import load_library

    try:
        stack = load_stack(stack_file_or_fail(config))
        return stack, load_library(stack)
    except VigilError as err:
        fail(err)


@runbook_app.command("list")
def list_(config: StackOption = None, as_json: JsonOption = False) -> None:
    """Every procedure: its id (file#slug), title, steps and whether any needs confirmation."""
    from vigil.runbooks.catalog import summary

    stack, library = _load(config)
    if not stack.model.runbooks:
        stderr.print(f"{stack.file} names no runbooks; add e.g. runbooks: [runbooks/*.md]", markup=False)
    rows = [summary(section) for section in library.procedures()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = f"  confirm: step {', '.join(map(str, row['confirm_steps']))}" if row["destructive"] else ""
        typer.echo(f"{row['id']}  ({row['runnable']} of {row['steps']} steps run){mark}\n    {row['title']}")


@runbook_app.command("show")
def show(
    procedure: Annotated[str, typer.Argument(help="file#slug or a title.")],
    config: StackOption = None,
    as_json: JsonOption = False,
) -> None:
    """One procedure: each step's explanation, code, what it lacks here and what needs confirmation."""
    from vigil.runbooks.catalog import detail
    from vigil.runbooks.runner import ProcedureRunner

    stack, library = _load(config)
    try:
        data = detail(ProcedureRunner(stack, library, None), procedure)
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['id']}: {data['title']}")
    for step in data["steps"]:
        name = f" {step['name']!r}" if step["name"] else ""
        run = "" if step["runnable"] else " (shown, never run)"
        typer.echo(f"\nstep {step['number']}{name} [{step['language'] or 'text'}]{run}")
        if step["explanation"]:
            typer.echo(f"  {step['explanation']}")
        typer.echo("    " + step["command"].rstrip("\n").replace("\n", "\n    "))
        for line in step["missing"]:
            typer.echo(f"  missing: {line}")
        if step["confirm"]:
            typer.echo(f"  needs confirmation: {', '.join(step['confirm'])}")


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise StepInputError(f"--param {pair[:60]!r}: give it as NAME=VALUE, e.g. --param commit=abc123")
        params[name] = value
    return params


@runbook_app.command("run")
def run(
    procedure: Annotated[str, typer.Argument(help="file#slug or a title.")],
    step: Annotated[int | None, typer.Option("--step", help="Run only this step (1-based).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show each resolved step; run nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run steps that need confirmation.")] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Fill a placeholder: --param commit=abc123.")
    ] = None,
    incident: Annotated[
        int | None, typer.Option("--incident", help="Note each step on this incident.")
    ] = None,
    actor: ActorOption = "cli",
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a procedure's steps in order, stopping at the first that fails."""
    from vigil.runbooks.runner import ProcedureRunner
    from vigil.store.database import open_database, stack_store_url

    stack, library = _load(config)
    out = sys.stderr if as_json else sys.stdout

    def show_line(number: int, line: str) -> None:
        print(line, file=out, flush=True)

    async def go() -> RunOutcome:
        request = RunRequest(procedure, actor, step, _params(param or []), dry_run, yes, incident)
        if dry_run:
            return await ProcedureRunner(stack, library, None).run(request)
        url = db or stack_store_url(stack.file, stack.model.store.url)
        # A run noted on an incident needs the store that incident is in; a run of its own
        # may start the store its record goes to.
        engine = (
            await open_existing(url, Path(stack.file), from_db=db is not None)
            if incident is not None
            else await open_database(url)
        )
        try:
            runner = ProcedureRunner(stack, library, engine)
            outcome = await runner.run(request, show_line)
            if _may_ask(outcome, yes) and _confirmed(outcome):
                outcome = await runner.run(dataclasses.replace(request, confirmed=True), show_line)
            return outcome
        finally:
            await engine.dispose()

    try:
        outcome = asyncio.run(go())
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(), indent=2))
    else:
        # A dry run's plan is the answer (stdout); a run's summary follows its output (stderr).
        _report(outcome, Console(highlight=False, soft_wrap=True) if dry_run else stderr)
    raise typer.Exit(int(outcome.exit))


def _may_ask(outcome: RunOutcome, yes: bool) -> bool:
    statuses = {s.status for s in outcome.steps}
    only_confirmation = StepStatus.NEEDS_CONFIRMATION in statuses and StepStatus.MISSING_INPUT not in statuses
    return only_confirmation and not yes and sys.stdin.isatty()


def _confirmed(outcome: RunOutcome) -> bool:
    for s in outcome.steps:
        if s.status is StepStatus.NEEDS_CONFIRMATION:
            stderr.print(s.reason.removesuffix("; run with --yes"), markup=False)
            stderr.print("    " + s.command.rstrip("\n").replace("\n", "\n    "), markup=False)
    return typer.confirm("Run it?", default=False, err=True)


def _report(outcome: RunOutcome, console: Console) -> None:
    lines: list[str] = []
    for s in outcome.steps:
        data: dict[str, Any] = s.as_dict()
        name = f" {s.name!r}" if s.name else ""
        code = f", exit {s.exit_code}" if s.exit_code is not None else ""
        ran = s.status in (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.TIMED_OUT)
        took = f" in {s.duration:.1f}s" if ran else ""
        lines.append(f"step {s.number}{name}: {s.status}{code}{took}")
        # What a step would run is shown whenever it did not run: a plan, or a refusal to start.
        if not ran and s.command and s.status is not StepStatus.SKIPPED and outcome.run_id is None:
            lines.append("    " + data["command"].rstrip("\n").replace("\n", "\n    "))
        if s.reason and s.status is not StepStatus.SUCCEEDED:
            lines.append(f"  {s.reason}")
    if outcome.exit is RunExit.NOT_STARTED:
        lines.append("nothing was run")
    console.print("\n".join(lines), markup=False)


def register(app: typer.Typer) -> None:
    from vigil.cli.runbook_search import search

    runbook_app.command("search")(search)
    app.add_typer(runbook_app, name="runbook")
