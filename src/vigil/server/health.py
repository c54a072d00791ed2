"""Vigil's own health, in the conventions orchestrators know: ``/livez``, ``/readyz``, ``/healthz``,
and ``/metrics`` in Prometheus text format."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

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


@router.get("/readyz", summary="The store answers and the scheduler is alive", responses=UNHEALTHY)
async def readyz(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    store = False
    with contextlib.suppress(Exception):
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            store = True
    checks = {"store": "ok" if store else "unreachable", "scheduler": "ok" if runtime.alive() else "stalled"}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
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
