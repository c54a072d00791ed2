"""``vigil token create|revoke``: API tokens for responders, admins and read-only viewers."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from vigil.cli.app import fail
from vigil.cli.options import DbOption, JsonOption
from vigil.engine.clock import SystemClock
from vigil.errors import VigilError
from vigil.server.tokens import Role, create_token, revoke_token
from vigil.store.database import open_database

token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)


@token_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="viewer < responder < admin.")] = Role.RESPONDER,
    name: Annotated[str, typer.Option(help="Who or what uses the token; shown on the timeline.")] = "cli",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once; only its hash is stored."""

    async def run() -> str:
        engine = await open_database(db)
        try:
            return await create_token(engine, SystemClock(), name, role)
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(run())
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps({"token": token, "name": name, "role": str(role)}))
    else:
        typer.echo(token)
        typer.echo(f"(role {role}, name {name!r}; shown once, keep it safe)", err=True)


@token_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")], db: DbOption = None) -> None:
    """Revoke every token with this name."""

    async def run() -> int:
        engine = await open_database(db)
        try:
            return await revoke_token(engine, SystemClock(), name)
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except VigilError as err:
        fail(err)
    typer.echo(f"revoked {count} token{'s' if count != 1 else ''} named {name!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
