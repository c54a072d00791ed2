"""The dashboard's graph data: ``/api/v1/graphs/…``, one time axis and its lines, as uPlot draws them.

Dashboard-specific on purpose: Prometheus' own query API is served under ``/prometheus``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from vigil.errors import NotFoundError
from vigil.server.api import Id, runtime_of
from vigil.server.graph_views import (
    MAX_BACKUP_HOURS,
    MAX_CHECK_HOURS,
    MAX_POINTS,
    MAX_RULE_HOURS,
    POINTS,
    backup_graph_of,
    check_graph_of,
    incident_graph_of,
    rule_graph_of,
)

router = APIRouter(prefix="/api/v1/graphs", tags=["api"])
Points = Annotated[int, Query(ge=10, le=MAX_POINTS, description="At most this many times per line")]
CheckHours = Annotated[float, Query(gt=0, le=MAX_CHECK_HOURS, description="The window, up to now")]
RuleHours = Annotated[float, Query(gt=0, le=MAX_RULE_HOURS, description="The window, up to now")]
BackupHours = Annotated[float, Query(gt=0, le=MAX_BACKUP_HOURS, description="The window, up to now")]


@router.get("/checks/{check_id}", summary="A check's latency and up over the last hours")
async def check_graph(
    request: Request, check_id: str, hours: CheckHours = 1, points: Points = POINTS
) -> dict[str, Any]:
    return {
        "check": check_id,
        **(await check_graph_of(runtime_of(request), check_id, hours, points)).as_dict(),
    }


@router.get("/rules/{name}", summary="A rule's expression over the last hours, with its threshold")
async def rule_graph(
    request: Request, name: str, hours: RuleHours = 3, points: Points = POINTS
) -> dict[str, Any]:
    return {"rule": name, **(await rule_graph_of(runtime_of(request), name, hours, points)).as_dict()}


@router.get("/incidents/{incident_id}", summary="The check or rule that opened an incident, around it")
async def incident_graph(request: Request, incident_id: Id, points: Points = POINTS) -> dict[str, Any]:
    runtime = runtime_of(request)
    shown = await incident_graph_of(runtime, await runtime.incidents.get(incident_id), points)
    if shown is None:
        raise NotFoundError(f"incident {incident_id} was not opened by a check or rule of the stack file")
    return {"incident": incident_id, shown.kind: shown.name, **shown.graph.as_dict()}


@router.get("/backups/{job}", summary="A backup job's size and duration of each good backup")
async def backup_graph(
    request: Request, job: str, hours: BackupHours = 24, points: Points = POINTS
) -> dict[str, Any]:
    return {"job": job, **(await backup_graph_of(runtime_of(request), job, hours, points)).as_dict()}
