"""``vigil runbook search QUERY``: the runbook sections a few words are about, best first — the
same ranking that suggests sections on incidents. ``vigil runbook`` (``cli/runbook.py``) makes
it one of its commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail, stderr
from vigil.cli.options import ConfigOption, JsonOption
from vigil.errors import RunbookError, VigilError
from vigil.runbooks.search import MAX_LIMIT, SectionIndex

QueryArgument = Annotated[
    list[str],
    typer.Argument(help="Words to look for: an alert's name, an error message, a tool (psql, redis-cli)."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT, help="How many sections to show at most.")
]


def search(
    query: QueryArgument,
    config: ConfigOption = Path("vigil.yaml"),
    as_json: JsonOption = False,
    limit: LimitOption = 10,
) -> None:
    """Find the runbook sections that best match QUERY (BM25 over titles, prose and step code)."""
    # Loaded when the search runs, not when `vigil --help` lists the runbook group.
    from vigil.config.load import load_stack
    from vigil.runbooks.library import load_library

    try:
        stack = load_stack(config)
        if not stack.model.runbooks:
            raise RunbookError(f"{config} lists no runbooks; name them under runbooks:, e.g. [runbooks/*.md]")
        hits = SectionIndex(load_library(stack).all_sections()).search(" ".join(query), limit)
    except VigilError as err:
        fail(err)
    if as_json:
        shown = [
            {
                "id": hit.section.id,
                "title": hit.section.title,
                "score": hit.score,
                "procedure": hit.section.is_procedure,
                "steps": len(hit.section.steps),
                "line": hit.section.line,
            }
            for hit in hits
        ]
        typer.echo(json.dumps(shown, indent=2))
        return
    if not hits:
        stderr.print(f"no runbook section matches {' '.join(query)!r}", markup=False)
        return
    # One plain line per section, never cut to the terminal's width: ids are for copying.
    for hit in hits:
        count = len(hit.section.steps)
        steps = f"{count} step{'s' if count != 1 else ''}" if hit.section.is_procedure else "no steps"
        typer.echo(f"{hit.score:7.2f}  {hit.section.id}  {hit.section.title}  ({steps})")
