"""Options shared by several commands."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

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


Work = TypeVar("Work")
_STORE_OPTIONS = tuple(
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=option)
    for name, default, option in (
        ("config", None, StackOption),
        ("db", None, DbOption),
        ("as_json", False, JsonOption),
    )
)


def store_command(
    app: typer.Typer, name: str, run: Callable[[Path | None, str | None, bool, Work], None]
) -> Callable[[Callable[..., Work]], Callable[..., Work]]:
    """Register a function as command ``name`` of ``app``, with ``--config``, ``--db`` and ``--json``
    after its own options: it takes the command's own arguments and returns the work that ``run``
    does on the stack's store and prints."""

    def register(describe: Callable[..., Work]) -> Callable[..., Work]:
        def command(*, config: Path | None, db: str | None, as_json: bool, **own: Any) -> None:
            run(config, db, as_json, describe(**own))

        # Typer reads the options from this signature, so its annotations (the return's too) are
        # evaluated here: they must name what the module imports at run time, not under TYPE_CHECKING.
        signature = inspect.signature(describe, eval_str=True)
        parameters = [*signature.parameters.values(), *_STORE_OPTIONS]
        command.__signature__ = signature.replace(parameters=parameters, return_annotation=None)  # type: ignore[attr-defined]
        command.__doc__ = describe.__doc__
        app.command(name)(command)
        return describe

    return register
