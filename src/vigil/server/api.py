"""The REST API, ``/api/v1``: a thin face over the incident service and the status board."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from vigil.alerting.alertmanager import AmPayload, receive
from vigil.engine.board import CheckState
from vigil.engine.heartbeats import heartbeat_spec
from vigil.errors import NotFoundError
from vigil.incidents.inputs import NAME_LIMIT, SEVERITY_LIMIT, TEXT_LIMIT
from vigil.incidents.severity import IncidentStatus
from vigil.server.api_document import CONFLICT
from vigil.server.auth import Responder
from vigil.server.incident_cache import incident_cache
from vigil.server.runbook_views import incident_view, review_view
from vigil.server.runtime import Runtime
from vigil.server.views import check_view, services_view
from vigil.store.ping_log import MOST as MOST_PINGS
from vigil.store.ping_log import recent_pings

router = APIRouter(prefix="/api/v1", tags=["api"])

# The store's ids are 32-bit on PostgreSQL: a bigger id or offset is refused (422), never a 500.
LARGEST_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=LARGEST_ID)]
Offset = Annotated[int, Query(ge=0, le=LARGEST_ID)]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


class ResolveBody(BaseModel):
    note: str | None = Field(
        None, max_length=TEXT_LIMIT, description="Added to the timeline before resolving."
    )


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=TEXT_LIMIT)


@router.get("/services", summary="Every service with its checks and their current status")
async def list_services(request: Request) -> list[dict[str, Any]]:
    return services_view(runtime_of(request))


@router.get("/checks", summary="Checks and their current status, failing first, a page at a time")
async def list_checks(
    request: Request,
    service: str | None = None,
    status: Annotated[CheckState | None, Query(description="ok, failing or pending")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    page, total = runtime.board.page(service=service, state=status, limit=limit, offset=offset)
    now = runtime.clock.now()
    return {"total": total, "offset": offset, "checks": [check_view(s, now) for s in page]}


@router.get("/checks/{check_id}", summary="One check's current status")
async def get_check(request: Request, check_id: str) -> dict[str, Any]:
    runtime = runtime_of(request)
    status = runtime.board.checks.get(check_id)
    if status is None:
        raise NotFoundError(f"no check {check_id!r}; checks are addressed as service.check")
    return check_view(status, runtime.clock.now())


@router.get("/checks/{check_id}/results", summary="A check's recent results, newest first")
async def check_results(
    request: Request, check_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    if check_id not in runtime.board.checks:
        raise NotFoundError(f"no check {check_id!r}; checks are addressed as service.check")
    return [r.as_dict() for r in await runtime.results.recent(check_id, limit)]


@router.get("/checks/{check_id}/pings", summary="A heartbeat check's recent pings, newest first")
async def check_pings(
    request: Request, check_id: str, limit: Annotated[int, Query(ge=1, le=MOST_PINGS)] = 20
) -> list[dict[str, Any]]:
    """Each ping's time, kind (success, start, fail, log), exit status, the run's duration from its
    start to its success, and the start of what the job posted (redacted)."""
    runtime = runtime_of(request)
    spec = heartbeat_spec(runtime.stack, check_id)
    return [p.as_dict() for p in await recent_pings(runtime.engine, spec.id, limit)]


@router.get("/incidents", summary="Incidents, open ones first")
async def list_incidents(
    request: Request,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    service: Annotated[str | None, Query(max_length=NAME_LIMIT, description="A service's name")] = None,
    severity: Annotated[
        str | None, Query(max_length=SEVERITY_LIMIT, description="A level's name, e.g. P1")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    cache = incident_cache(request.app.state, runtime_of(request).incidents)
    return await cache.listing(
        status=status or (), service=service, severity=severity, limit=limit, offset=offset
    )


@router.get(
    "/incidents/{incident_id}", summary="One incident with its timeline and suggested runbook sections"
)
async def get_incident(request: Request, incident_id: Id) -> dict[str, Any]:
    return (await incident_view(runtime_of(request), incident_id)).as_dict()


@router.get("/runbooks/review", summary="Runbooks past their review date or older than runbooks_max_age")
async def runbook_review(request: Request) -> dict[str, Any]:
    return review_view(runtime_of(request))


@router.post(
    "/incidents/{incident_id}/acknowledge", summary="Acknowledge: someone is on it", responses=CONFLICT
)
async def acknowledge(request: Request, incident_id: Id, who: Responder) -> dict[str, Any]:
    return (await runtime_of(request).incidents.acknowledge(incident_id, who.name)).as_dict()


@router.post(
    "/incidents/{incident_id}/resolve", summary="Resolve, with an optional closing note", responses=CONFLICT
)
async def resolve(
    request: Request, incident_id: Id, who: Responder, body: ResolveBody | None = None
) -> dict[str, Any]:
    note = body.note if body else None
    return (await runtime_of(request).incidents.resolve(incident_id, who.name, note)).as_dict()


@router.post("/alertmanager", summary="Alertmanager webhook receiver (payload version 4)")
async def alertmanager(request: Request, payload: AmPayload, who: Responder) -> dict[str, list[int]]:
    return await receive(payload, runtime_of(request).incidents)


@router.post("/incidents/{incident_id}/notes", status_code=201, summary="Add a note to the timeline")
async def add_note(request: Request, incident_id: Id, who: Responder, body: NoteBody) -> dict[str, Any]:
    return (await runtime_of(request).incidents.add_note(incident_id, who.name, body.text)).as_dict()
