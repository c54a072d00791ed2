"""``vigil incident update`` and ``vigil incident postmortem``: tell the incident's channels where
the response stands, and write the postmortem's first draft. The same service functions as the
API; an update's messages go into the outbox and are sent by the running ``vigil up``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.incident import Actor, ConfigOpt, incident_app
from vigil.cli.options import DbOption, JsonOption
from vigil.cli.output import emit
from vigil.cli.store_session import with_stack
from vigil.incidents.update_message import UpdateStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from vigil.config.load import Stack
    from vigil.incidents.service import IncidentService


def service(stack: Stack, engine: AsyncEngine) -> IncidentService:
    # The service (and the store under it) loads when a command runs, not when it is registered.
    from vigil.engine.clock import SystemClock
    from vigil.incidents.service import IncidentService

    settings = stack.model
    return IncidentService(
        engine, settings, SystemClock(), dashboard_url=settings.server.public_url or "", redact=stack.redactor
    )


@incident_app.command("update")
def update(
    incident_id: int,
    text: Annotated[str, typer.Argument(help="What is new, in a sentence or two.")],
    status: Annotated[UpdateStatus, typer.Option(help="Where the response stands.")],
    impact: Annotated[
        str | None, typer.Option(help="Who or what is affected, e.g. 'checkout fails for all users'.")
    ] = None,
    actor: Actor = "cli",
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Post a status update to the incident's channels; --status resolved also resolves it."""

    from vigil.incidents.updates import StatusUpdates

    async def work(stack: Stack, engine: AsyncEngine) -> dict[str, Any]:
        posted = await StatusUpdates(service(stack, engine)).post(incident_id, status, text, actor, impact)
        return posted.as_dict()

    data = with_stack(config, db, work)
    shown = f"update {data['id']} posted to incident {incident_id}:\n{data['message'].rstrip()}"
    emit(data, as_json, shown)


@incident_app.command("postmortem")
def write_postmortem(
    incident_id: int,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write it ('-': print it); default docs/incidents/DATE-TITLE.md."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Write over a postmortem that exists.")] = False,
    config: ConfigOpt = None,
    db: DbOption = None,
) -> None:
    """Write the incident's postmortem as Markdown: its timeline, figures and the sections to fill in."""

    from vigil.incidents import postmortem

    async def work(stack: Stack, engine: AsyncEngine) -> str:
        drafted = await postmortem.draft(stack, service(stack, engine), incident_id)
        if output is not None and str(output) == "-":
            return drafted.markdown
        path = postmortem.write(
            output or postmortem.default_path(stack, drafted.incident), drafted, force=force
        )
        return f"postmortem of incident {incident_id} written to {path}"

    typer.echo(with_stack(config, db, work).rstrip("\n"))
