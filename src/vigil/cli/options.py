"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.incidents.inputs import NAME_LIMIT

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="The stack file.", envvar="VIGIL_CONFIG", show_default=True),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=(
            "State database URL (sqlite:///path or postgresql://…); default: the stack file's "
            "store.url, else .vigil/vigil.db beside the stack file."
        ),
        envvar="VIGIL_DB",
    ),
]
StackOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Stack file (for its store, channels and windows); default: vigil.yaml here or in a folder above.",
        envvar="VIGIL_CONFIG",
    ),
]


def _actor(name: str) -> str:
    """A name as the timeline keeps it: the store's width at most."""
    if not 0 < len(name) <= NAME_LIMIT:
        raise typer.BadParameter(f"1 to {NAME_LIMIT} characters, not {len(name):,}")
    return name


ActorOption = Annotated[
    str,
    typer.Option("--as", help="Your name, for the timeline and the audit.", envvar="USER", callback=_actor),
]
