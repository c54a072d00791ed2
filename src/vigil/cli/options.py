"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="The stack file.", envvar="VIGIL_CONFIG", show_default=True),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="State database URL (sqlite:///path or postgresql://…); default: the stack file's store.url or .vigil/vigil.db.",
        envvar="VIGIL_DB",
    ),
]
