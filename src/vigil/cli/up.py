"""``vigil up``: the long-running server — scheduler, incidents, notifications, API, dashboard."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail
from vigil.cli.options import ConfigOption, DbOption
from vigil.config.load import load_stack
from vigil.errors import VigilError
from vigil.server.serve import serve


def up(
    config: ConfigOption = Path("vigil.yaml"),
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8484,
) -> None:
    """Run Vigil: probe on schedule, open and resolve incidents, notify, serve the API and dashboard."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        stack = load_stack(config)
        asyncio.run(serve(stack, db=db, host=host, port=port))
    except VigilError as err:
        fail(err)


def register(app: typer.Typer) -> None:
    app.command()(up)
