"""``vigil up``: the long-running server — scheduler, incidents, notifications, API, dashboard."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail
from vigil.cli.logs import VerboseOption, configure_logging
from vigil.cli.options import ConfigOption, DbOption
from vigil.errors import VigilError


def up(
    config: ConfigOption = Path("vigil.yaml"),
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8484,
    verbose: VerboseOption = False,
) -> None:
    """Run Vigil: probe on schedule, open and resolve incidents, notify, serve the API and dashboard."""
    # The server loads when it runs, not when `vigil --help` lists this command.
    from vigil.config.load import load_stack
    from vigil.server.serve import serve

    configure_logging(verbose=verbose)
    try:
        stack = load_stack(config)
        asyncio.run(serve(stack, db=db, host=host, port=port))
    except VigilError as err:
        fail(err)


def register(app: typer.Typer) -> None:
    app.command()(up)
