"""``vigil import RUNBOOK.md [-o vigil.yaml]``: a stack file drafted from a runbook's own words.

The module is not named ``import``, a Python keyword; ``cli.app`` registers it under that name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail, stderr
from vigil.errors import RunbookError, VigilError


def import_runbook(
    runbook: Annotated[Path, typer.Argument(help="The Markdown runbook to read.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the draft here instead of to stdout.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --output file if it exists.")] = False,
) -> None:
    """Draft a stack file from a runbook: services, health checks, dependencies, alert rules,
    severities and maintenance windows, with what Vigil cannot express kept as comments."""
    from vigil.runbooks.importer import draft_stack  # loaded when it runs, not for `vigil --help`

    try:
        if output is not None:
            _may_write(runbook, output, force)
        draft = draft_stack(runbook, output)
        if output is None:
            typer.echo(draft.text, nl=False)
        else:
            _write(output, draft.text, force)
    except VigilError as err:
        fail(err)
    for line in draft.notes:
        stderr.print(line, markup=False)
    if output is not None:
        stderr.print(f"wrote {output}; check it with: vigil validate -c {output}", markup=False)


def _may_write(runbook: Path, output: Path, force: bool) -> None:
    if output.resolve() == runbook.resolve():
        raise RunbookError(f"{output}: that is the runbook itself; write the draft elsewhere")
    if output.exists() and not force:
        raise RunbookError(f"{output} exists; pass --force to overwrite it")


def _write(output: Path, text: str, force: bool) -> None:
    try:
        with output.open("w" if force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise RunbookError(f"{output} exists; pass --force to overwrite it") from None
    except OSError as err:
        raise RunbookError(f"{output}: cannot write the draft: {err.strerror}") from None


def register(app: typer.Typer) -> None:
    app.command("import")(import_runbook)
