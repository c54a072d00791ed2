"""``vigil schema``: the stack file's JSON Schema, for editors and CI linters."""

from __future__ import annotations

import json

import typer

from vigil.config.stack import StackFile


def schema() -> None:
    """Print the stack file's JSON Schema."""
    document = StackFile.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Vigil stack file"
    typer.echo(json.dumps(document, indent=2))


def register(app: typer.Typer) -> None:
    app.command()(schema)
