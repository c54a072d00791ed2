"""The FastAPI application: API, health, metrics and dashboard over one ``Runtime``.

Every error answers JSON ``{"error": "…"}`` (``error_shape``): a client's mistake a 4xx whose
message is the same one-line, secret-free text the CLI prints, an unexpected failure a 500 with a
request id; the OpenAPI document declares each (``api_document``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from vigil import __version__
from vigil.config.secrets import redact_logs
from vigil.server import (
    ack_pages,
    api,
    api_document,
    auth,
    dashboard,
    error_shape,
    health,
    history_api,
    incident_api,
    oncall_api,
    ping_routes,
    prometheus_api,
    quiet_api,
    runbook_api,
    runbook_pages,
    ui_auth,
    updates_api,
)
from vigil.server.redacting import RedactingMiddleware
from vigil.server.runtime import Runtime


def create_app(runtime: Runtime, *, manage_runtime: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.stop()

    app = FastAPI(
        title="Vigil",
        version=__version__,
        description="Checks, incidents and notifications of one stack file.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Reads need a viewer unless ``server.public_read``; the health checks never do (auth.py).
    reads = [Depends(ui_auth.reader)]
    app.include_router(api.router, dependencies=reads)
    app.include_router(incident_api.router, dependencies=reads)
    app.include_router(health.router, dependencies=[auth.MetricsReader])
    app.include_router(quiet_api.router, dependencies=reads)
    app.include_router(history_api.router, dependencies=reads)
    # A bearer token as the API takes it (Grafana sends one), or none with ``public_read``.
    app.include_router(prometheus_api.router, dependencies=[auth.Reader])
    app.include_router(runbook_api.router, dependencies=reads)
    app.include_router(oncall_api.router, dependencies=reads)
    app.include_router(oncall_api.calendars)  # its own reader: a calendar app sends ?token= (oncall_api)
    app.include_router(runbook_pages.router)
    app.include_router(updates_api.router, dependencies=reads)
    app.include_router(updates_api.pages)
    app.include_router(ack_pages.router)  # no sign-in: the link's token is the credential
    dashboard.install(app)
    error_shape.install(app, max_body=runtime.stack.model.server.max_body)
    auth.install(app)  # after the general handler: a limited client's 429 carries Retry-After
    # Every answer passes the stack file's redactor, and so does every log line.
    app.add_middleware(RedactingMiddleware, redactor=runtime.stack.redactor)
    ping_routes.install(
        app, runtime.heartbeats, runtime.stack.model.server.max_body
    )  # outermost: cheap pings
    redact_logs(runtime.stack.redactor)
    api_document.document(app)
    return app
