"""Vigil's own health, in the conventions orchestrators know: ``/livez``, ``/readyz``, ``/healthz``,
and ``/metrics`` in Prometheus text format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from vigil.engine.supervisor import StageStatus
from vigil.server.runtime import Runtime

router = APIRouter(tags=["health"])
UNHEALTHY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not alive, or not ready: the body says which part."}
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/livez", summary="The process and its scheduler loop are turning", responses=UNHEALTHY)
async def livez(request: Request) -> JSONResponse:
    alive = _runtime(request).alive()
    return JSONResponse({"status": "ok" if alive else "stalled"}, status_code=200 if alive else 503)


@router.get(
    "/readyz",
    summary="The store is the one Vigil opened and answers; no stage is failing",
    responses=UNHEALTHY,
)
async def readyz(request: Request) -> JSONResponse:
    """``checks``: ``store`` and ``scheduler`` ("ok" or what is wrong) and, for each failing stage,
    its last error; ``stages``: every supervised stage's health. 503 when anything is not ok."""
    runtime = _runtime(request)
    store = await runtime.store.check()
    checks = {"store": store or "ok", "scheduler": "ok" if runtime.alive() else "stalled"}
    stages: dict[str, dict[str, object]] = {}
    for stage in runtime.supervisor.stages.values():
        stages[stage.name] = {"status": str(stage.status), "restarts": stage.restarts}
        if stage.status is StageStatus.FAILING:
            since = stage.failing_since.isoformat() if stage.failing_since else None
            stages[stage.name].update(since=since, error=stage.last_error)
            if checks.get(stage.name, "ok") == "ok":
                checks[stage.name] = f"failing: {stage.last_error}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks, "stages": stages},
        status_code=200 if ready else 503,
    )


@router.get("/healthz", summary="Liveness and readiness together", responses=UNHEALTHY)
async def healthz(request: Request) -> JSONResponse:
    return await readyz(request)


@router.get(
    "/metrics", summary="Vigil's own metrics, Prometheus text format", response_class=PlainTextResponse
)
async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    return Response(runtime.metrics.render(runtime.board), media_type=CONTENT_TYPE_LATEST)
