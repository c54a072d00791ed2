"""``vigil schema``: the stack file's JSON Schema, for editors and CI linters."""

from __future__ import annotations

import json

import typer


def schema() -> None:
    """Print the stack file's JSON Schema."""
    # The schema loads when the command runs, not when `vigil --help` lists it.
    from vigil.config.stack import StackFile

    document = StackFile.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Vigil stack file"
    typer.echo(json.dumps(document, indent=2))


def register(app: typer.Typer) -> None:
    app.command()(schema)
