"""Vigil's own health, in the conventions orchestrators know: ``/livez``, ``/readyz``, ``/healthz``,
and ``/metrics`` in Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from vigil.engine.supervisor import StageStatus
from vigil.server.runtime import Runtime

router = APIRouter(tags=["health"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/livez", summary="The process and its scheduler loop are turning")
async def livez(request: Request) -> JSONResponse:
    alive = _runtime(request).alive()
    return JSONResponse({"status": "ok" if alive else "stalled"}, status_code=200 if alive else 503)


@router.get("/readyz", summary="The store is the one Vigil opened and answers; no stage is failing")
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


@router.get("/healthz", summary="Liveness and readiness together")
async def healthz(request: Request) -> JSONResponse:
    return await readyz(request)


@router.get("/metrics", summary="Vigil's own metrics, Prometheus text format")
async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    return Response(runtime.metrics.render(runtime.board), media_type=CONTENT_TYPE_LATEST)
