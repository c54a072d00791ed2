"""``vigil token create|revoke``: API tokens for responders, admins and read-only viewers, in the
store of the stack file (see ``cli.store_session``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from vigil.cli.options import DbOption, JsonOption, StackOption
from vigil.cli.store_session import with_store
from vigil.server.roles import Role

token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)


@token_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="viewer < responder < admin.")] = Role.RESPONDER,
    name: Annotated[str, typer.Option(help="Who or what uses the token; shown on the timeline.")] = "cli",
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from vigil.engine.clock import SystemClock
    from vigil.server.tokens import create_token

    token = with_store(config, db, lambda _, engine: create_token(engine, SystemClock(), name, role))
    if as_json:
        typer.echo(json.dumps({"token": token, "name": name, "role": str(role)}))
    else:
        typer.echo(token)
        typer.echo(f"(role {role}, name {name!r}; shown once, keep it safe)", err=True)


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    config: StackOption = None,
    db: DbOption = None,
) -> None:
    """Revoke every token with this name."""
    from vigil.engine.clock import SystemClock
    from vigil.server.tokens import revoke_token

    count = with_store(config, db, lambda _, engine: revoke_token(engine, SystemClock(), name))
    typer.echo(f"revoked {count} token{'s' if count != 1 else ''} named {name!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
