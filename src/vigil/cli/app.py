"""The ``vigil`` command. Each command is a thin face over a service function; errors that a
user can fix print as one line and set the exit code, never as a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

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


@app.command()
def version() -> None:
    """Print Vigil's version."""
    typer.echo(__version__)


def _register() -> None:
    from vigil.cli import check, demo, incident, maintenance, rules, schema, silence, token, up, validate

    for module in (check, validate, schema, up, demo, token, incident, rules, silence, maintenance):
        module.register(app)


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
