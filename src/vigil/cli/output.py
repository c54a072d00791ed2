"""How commands print: what they did as a line, or its data as JSON; lists as a plain table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def emit(data: Any, as_json: bool, text: str) -> None:
    """``data`` as indented JSON with ``--json``, else ``text``."""
    typer.echo(json.dumps(data, indent=2) if as_json else text)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str | None]]) -> None:
    """A table without borders under a bold header; an empty cell where a row has None."""
    table = Table(box=None, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)
