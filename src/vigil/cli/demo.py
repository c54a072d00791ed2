"""``vigil demo``: a newcomer's first minute — a target app to break, a stack file watching it,
and the dashboard, in one command."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail
from vigil.config.load import load_stack
from vigil.demo.process import start_target_process, stop_target_process
from vigil.demo.stack import demo_stack_yaml
from vigil.engine.clock import SystemClock
from vigil.errors import VigilError
from vigil.server.serve import serve
from vigil.server.tokens import Role, create_login_link, create_token
from vigil.store.database import open_database


def demo(
    port: Annotated[int, typer.Option(help="Port for the dashboard.", min=1, max=65535)] = 8484,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its stack file and state.")
    ] = Path(".vigil/demo"),
    webhook: Annotated[str | None, typer.Option(help="Also page this webhook URL.")] = None,
) -> None:
    """Start a demo target, a stack file that watches it, and Vigil with its dashboard."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    directory.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{directory / 'vigil.db'}"
    try:
        target, target_url = start_target_process()
    except VigilError as err:
        fail(err)
    try:
        stack_file = directory / "vigil.yaml"
        stack_file.write_text(demo_stack_yaml(target_url, webhook))
        stack = load_stack(stack_file)
        token, link = asyncio.run(_token(db))
        dashboard = f"http://127.0.0.1:{port}"
        typer.echo(
            f"""
Vigil demo
  target app   {target_url}   (/health, /health/ready, /metrics)
  stack file   {stack_file}
  dashboard    {dashboard}/login/link?code={link}
               (opens the dashboard signed in as a responder; the link works once, for an hour)
  API token    {token}   (a responder token, for the API and for signing in again)

Try it:
  curl -X POST {target_url}/chaos -H 'Content-Type: application/json' -d '{{"mode": "fail"}}'
      → within a few seconds the check fails, an incident opens and the log channel is paged
  curl -X POST {target_url}/chaos -H 'Content-Type: application/json' -d '{{"mode": "recover"}}'
      → the check passes again and the incident resolves
  Other modes: slow (with "latency_ms"), db_down, cache_down.   Ctrl-C stops everything.
"""
        )
        asyncio.run(serve(stack, db=db, host="127.0.0.1", port=port, announce=False))
    except VigilError as err:
        fail(err)
    finally:
        stop_target_process(target)


async def _token(db: str) -> tuple[str, str]:
    engine = await open_database(db)
    try:
        clock = SystemClock()
        token = await create_token(engine, clock, "demo", Role.RESPONDER)
        return token, await create_login_link(engine, clock, "demo", Role.RESPONDER)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    app.command()(demo)
