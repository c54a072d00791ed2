"""The ``vigil`` command. Each command is a thin face over a service function; errors that a
user can fix print as one line and set the exit code, never as a traceback."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from vigil import __version__
from vigil.errors import VigilError

app = typer.Typer(
    name="vigil",
    help="Your production runbook, running: checks, alerts, incidents and backups from one stack file.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(err: VigilError) -> NoReturn:
    stderr.print(str(err), markup=False)
    raise typer.Exit(err.exit_code)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print Vigil's version."),
    ] = False,
) -> None:
    pass  # the app's help is the Typer's own


@app.command()
def version() -> None:
    """Print Vigil's version."""
    typer.echo(__version__)


COMMANDS = (
    "check",
    "validate",
    "schema",
    "up",
    "demo",
    "token",
    "incident",
    "rules",
    "silence",
    "maintenance",
    "import",
    "runbook",
    "oncall",
    "heartbeat",
    "backup",
    "db",
)
# A command whose name is a Python keyword lives in a module named otherwise.
MODULES = {"import": "import_runbook"}


def _register(argv: list[str]) -> None:
    """Register the commands: only the one asked for when it is named (none for the version),
    every one for ``--help`` or a name that needs the list of commands in its error. Each command
    module imports what its work needs (the server, the store, the probes) inside that work."""
    first = argv[1] if len(argv) > 1 else None
    if first in ("version", "--version"):
        return
    for name in (first,) if first in COMMANDS else COMMANDS:
        importlib.import_module(f"vigil.cli.{MODULES.get(name, name)}").register(app)


_register(sys.argv)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
