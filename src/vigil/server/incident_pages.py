"""The incident page's controls past acknowledge and resolve: mitigate, checklist ticks,
assignee and commander, severity, merge and reopen. Each is a CSRF-protected form (``ui_auth.act``)
over one ``IncidentService`` call; a refused change comes back as the page's message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from vigil.errors import InputError
from vigil.incidents.lifecycle import Role
from vigil.server.dashboard import NOTE_LIMIT, View, _after, _back
from vigil.server.tokens import Principal
from vigil.server.ui_auth import act, runtime_of

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


def _limited(text: str, what: str, limit: int = NOTE_LIMIT) -> str:
    text = text.strip()
    if len(text) > limit:
        raise InputError(f"{what} can be at most {limit:,} characters; this one has {len(text):,}")
    return text


@router.post("/incidents/{incident_id}/mitigate")
async def mitigate(request: Request, incident_id: int, view: View = "overview") -> Response:
    async def action(who: Principal) -> object:
        return await runtime_of(request).incidents.mitigate(incident_id, who.name)

    return await act(request, action, _after(request, incident_id, view), _back(incident_id, view))


@router.post("/incidents/{incident_id}/checklist")
async def tick(request: Request, incident_id: int, item: Text = "", done: Text = "true") -> Response:
    async def action(who: Principal) -> object:
        item_given = _limited(item, "a checklist item", 300)
        return await runtime_of(request).incidents.tick(incident_id, who.name, item_given, done != "false")

    return await _on_page(request, incident_id, action)


@router.post("/incidents/{incident_id}/assign")
async def assign(
    request: Request,
    incident_id: int,
    name: Text = "",
    role: Annotated[Literal["assignee", "commander"], Form()] = "assignee",
) -> Response:
    async def action(who: Principal) -> object:
        given = _limited(name, "a name", 200) or None  # an empty field clears it
        return await runtime_of(request).incidents.assign(incident_id, who.name, given, Role(role))

    return await _on_page(request, incident_id, action)


@router.post("/incidents/{incident_id}/severity")
async def severity(request: Request, incident_id: int, severity: Text = "") -> Response:
    async def action(who: Principal) -> object:
        level = _limited(severity, "a severity", 40)
        return await runtime_of(request).incidents.set_severity(incident_id, who.name, level)

    return await _on_page(request, incident_id, action)


@router.post("/incidents/{incident_id}/merge")
async def merge(request: Request, incident_id: int, into: Text = "") -> Response:
    async def action(who: Principal) -> object:
        into_id = into.strip()
        if not into_id.isdigit() or len(into_id) > 10 or not 0 < int(into_id) < 2**31:
            raise InputError("merge into an incident's number, e.g. 12")
        return await runtime_of(request).incidents.merge(incident_id, int(into_id), who.name)

    return await _on_page(request, incident_id, action)


@router.post("/incidents/{incident_id}/reopen")
async def reopen(request: Request, incident_id: int, reason: Text = "") -> Response:
    async def action(who: Principal) -> object:
        return await runtime_of(request).incidents.reopen(incident_id, who.name, _limited(reason, "a reason"))

    return await _on_page(request, incident_id, action)


async def _on_page(
    request: Request, incident_id: int, action: Callable[[Principal], Awaitable[object]]
) -> Response:
    """Answer with the incident's live part under htmx, a redirect to its page otherwise."""
    return await act(
        request, action, _after(request, incident_id, "incident"), _back(incident_id, "incident")
    )
