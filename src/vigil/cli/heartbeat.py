"""``vigil heartbeat url SERVICE.CHECK``: the URL a heartbeat check's job pings, ready for a crontab.

The address is the stack file's ``server.public_url`` (where jobs reach Vigil), else ``vigil
up``'s default listen address, said so on stderr. A key of Vigil's making is read from the store
(made there if the check is new); a key the stack file gives needs no store. The URL is the
check's credential: this command prints it because that is what it is for.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail, stderr
from vigil.cli.options import DbOption, JsonOption, StackOption
from vigil.cli.store_session import locate_store, open_existing
from vigil.config.load import Stack
from vigil.engine.heartbeats import given_key, heartbeat_spec, ping_url
from vigil.errors import VigilError

heartbeat_app = typer.Typer(help="Heartbeat checks: the URLs their jobs ping.", no_args_is_help=True)
DEFAULT_BASE = "http://127.0.0.1:8484"  # vigil up's default address
CURL = "curl -fsS -m 10 --retry 5 -o /dev/null"


@heartbeat_app.command("url")
def url(
    check: Annotated[str, typer.Argument(help="The heartbeat check, as service.check.")],
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the check's ping URL and the curl line that pings it (append /start, /fail or /$? to it)."""
    try:
        stack, path, store_url = locate_store(config, db)
        base = stack.model.server.public_url
        address = asyncio.run(_address(stack, check, path, store_url, db is not None, base or DEFAULT_BASE))
    except VigilError as err:
        fail(err)
    if not base:
        stderr.print(
            f"server.public_url is not set in {stack.file}: the URL uses {DEFAULT_BASE}", markup=False
        )
    if as_json:
        urls = {
            "check": check,
            "url": address,
            "start_url": f"{address}/start",
            "fail_url": f"{address}/fail",
        }
        typer.echo(json.dumps({**urls, "curl": f"{CURL} {address}"}, indent=2))
        return
    typer.echo(address)
    typer.echo(f"# in a crontab, after the job:  && {CURL} {address}")
    typer.echo(f"# its exit status instead:      ; {CURL} {address}/$?")


async def _address(
    stack: Stack, check: str, path: Path | None, store_url: str, from_db: bool, base: str
) -> str:
    spec = heartbeat_spec(stack, check)
    if given_key(spec) is not None:
        return await ping_url(spec, None, base)
    engine = await open_existing(store_url, path, from_db=from_db)
    try:
        return await ping_url(spec, engine, base)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(heartbeat_app, name="heartbeat")
