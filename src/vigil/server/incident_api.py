"""``/api/v1`` for the incident lifecycle past acknowledge and resolve: incidents opened by hand,
mitigate, reopen, assignee and commander, severity, merge, checklist ticks, and the severity
scheme itself. Thin: each route is one ``IncidentService`` call; a change the incident's state
does not allow answers 409, a severity or checklist item the stack file lacks 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from vigil.incidents.inputs import ITEM_LIMIT, NAME_LIMIT, SEVERITY_LIMIT, TEXT_LIMIT, TITLE_LIMIT
from vigil.incidents.lifecycle import Role
from vigil.server.api import LARGEST_ID, Id, runtime_of
from vigil.server.api_document import CONFLICT
from vigil.server.auth import Responder

router = APIRouter(prefix="/api/v1", tags=["incidents"])


class OpenBody(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_LIMIT, examples=["Chat not responding"])
    severity: str | None = Field(
        None,
        min_length=1,
        max_length=SEVERITY_LIMIT,
        description="A level of the scheme; default: its second (P2).",
    )
    service: str | None = Field(
        None, min_length=1, max_length=NAME_LIMIT, description="A service of the stack file."
    )


class MitigateBody(BaseModel):
    note: str | None = Field(None, max_length=TEXT_LIMIT, description="Added to the timeline first.")


class ReopenBody(BaseModel):
    reason: str = Field(min_length=1, max_length=TEXT_LIMIT, description="Why it is not over.")


class PersonBody(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=NAME_LIMIT, description="Who; null clears it.")


class SeverityBody(BaseModel):
    severity: str = Field(min_length=1, max_length=SEVERITY_LIMIT, description="A level of the scheme.")


class MergeBody(BaseModel):
    into: int = Field(ge=1, le=LARGEST_ID, description="The incident that stays open.")


class TickBody(BaseModel):
    item: str = Field(
        min_length=1, max_length=ITEM_LIMIT, description="The item's number (1-based) or its text."
    )
    done: bool = Field(True, description="false unticks it.")


@router.get("/severities", summary="The severity scheme: its levels, targets, paging and checklists")
async def severities(request: Request) -> dict[str, Any]:
    scheme = runtime_of(request).stack.model.scheme
    return {"scheme": str(scheme.name), "levels": [level.as_dict() for level in scheme.levels]}


@router.post("/incidents", status_code=201, summary="Open an incident by hand", responses=CONFLICT)
async def open_incident(request: Request, who: Responder, body: OpenBody) -> dict[str, Any]:
    incidents = runtime_of(request).incidents
    severity = body.severity or incidents.stack.scheme.default.name
    return (await incidents.open_manual(body.title, severity, who.name, body.service)).as_dict()


@router.post("/incidents/{incident_id}/mitigate", summary="Mitigated: the impact is over", responses=CONFLICT)
async def mitigate(
    request: Request, incident_id: Id, who: Responder, body: MitigateBody | None = None
) -> dict[str, Any]:
    note = body.note if body else None
    return (await runtime_of(request).incidents.mitigate(incident_id, who.name, note)).as_dict()


@router.post("/incidents/{incident_id}/reopen", summary="Reopen a resolved incident", responses=CONFLICT)
async def reopen(request: Request, incident_id: Id, who: Responder, body: ReopenBody) -> dict[str, Any]:
    return (await runtime_of(request).incidents.reopen(incident_id, who.name, body.reason)).as_dict()


@router.post("/incidents/{incident_id}/assignee", summary="Set or clear the assignee", responses=CONFLICT)
async def assignee(request: Request, incident_id: Id, who: Responder, body: PersonBody) -> dict[str, Any]:
    incidents = runtime_of(request).incidents
    return (await incidents.assign(incident_id, who.name, body.name, Role.ASSIGNEE)).as_dict()


@router.post(
    "/incidents/{incident_id}/commander", summary="Set or clear the incident commander", responses=CONFLICT
)
async def commander(request: Request, incident_id: Id, who: Responder, body: PersonBody) -> dict[str, Any]:
    incidents = runtime_of(request).incidents
    return (await incidents.assign(incident_id, who.name, body.name, Role.COMMANDER)).as_dict()


@router.post("/incidents/{incident_id}/severity", summary="Change the severity", responses=CONFLICT)
async def severity(request: Request, incident_id: Id, who: Responder, body: SeverityBody) -> dict[str, Any]:
    return (await runtime_of(request).incidents.set_severity(incident_id, who.name, body.severity)).as_dict()


@router.post(
    "/incidents/{incident_id}/merge",
    summary="Merge this incident into another; answers the one that stays open",
    responses=CONFLICT,
)
async def merge(request: Request, incident_id: Id, who: Responder, body: MergeBody) -> dict[str, Any]:
    return (await runtime_of(request).incidents.merge(incident_id, body.into, who.name)).as_dict()


@router.post(
    "/incidents/{incident_id}/checklist",
    summary="Tick (or untick) an item of the severity's checklist; answers the checklist",
    responses=CONFLICT,
)
async def tick(
    request: Request, incident_id: Id, who: Responder, body: Annotated[TickBody, Body()]
) -> list[dict[str, Any]]:
    items = await runtime_of(request).incidents.tick(incident_id, who.name, body.item, body.done)
    return [item.as_dict() for item in items]
