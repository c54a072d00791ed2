"""The incident page's controls past acknowledge and resolve: mitigate, checklist ticks,
assignee and commander, severity, merge and reopen. Each is a CSRF-protected form (``ui_auth.act``)
over one ``IncidentService`` call; a refused change comes back as the page's message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from vigil.errors import InputError
from vigil.incidents.inputs import ITEM_LIMIT, NAME_LIMIT, SEVERITY_LIMIT, bounded
from vigil.incidents.lifecycle import Role
from vigil.incidents.service import IncidentService
from vigil.server.dashboard import View, on_incident
from vigil.server.tokens import Principal

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


@router.post("/incidents/{incident_id}/mitigate")
async def mitigate(request: Request, incident_id: int, view: View = "overview") -> Response:
    return await on_incident(request, incident_id, view, lambda s, who: s.mitigate(incident_id, who.name))


@router.post("/incidents/{incident_id}/checklist")
async def tick(request: Request, incident_id: int, item: Text = "", done: Text = "true") -> Response:
    return await on_incident(
        request,
        incident_id,
        "incident",
        lambda s, who: s.tick(
            incident_id, who.name, bounded(item, "a checklist item", ITEM_LIMIT), done != "false"
        ),
    )


@router.post("/incidents/{incident_id}/assign")
async def assign(
    request: Request,
    incident_id: int,
    name: Text = "",
    role: Annotated[Literal["assignee", "commander"], Form()] = "assignee",
) -> Response:
    async def action(s: IncidentService, who: Principal) -> object:
        given = bounded(name, "a name", NAME_LIMIT, required=False) or None  # an empty field clears it
        return await s.assign(incident_id, who.name, given, Role(role))

    return await on_incident(request, incident_id, "incident", action)


@router.post("/incidents/{incident_id}/severity")
async def severity(request: Request, incident_id: int, severity: Text = "") -> Response:
    return await on_incident(
        request,
        incident_id,
        "incident",
        lambda s, who: s.set_severity(incident_id, who.name, bounded(severity, "a severity", SEVERITY_LIMIT)),
    )


@router.post("/incidents/{incident_id}/merge")
async def merge(request: Request, incident_id: int, into: Text = "") -> Response:
    async def action(s: IncidentService, who: Principal) -> object:
        into_id = into.strip()
        if not into_id.isdigit() or len(into_id) > 10 or not 0 < int(into_id) < 2**31:
            raise InputError("merge into an incident's number, e.g. 12")
        return await s.merge(incident_id, int(into_id), who.name)

    return await on_incident(request, incident_id, "incident", action)


@router.post("/incidents/{incident_id}/reopen")
async def reopen(request: Request, incident_id: int, reason: Text = "") -> Response:
    return await on_incident(
        request, incident_id, "incident", lambda s, who: s.reopen(incident_id, who.name, reason)
    )
