"""The FastAPI application: API, health, metrics and dashboard over one ``Runtime``.

Every error answers JSON ``{"error": "…"}`` (``error_shape``): a client's mistake a 4xx whose
message is the same one-line, secret-free text the CLI prints, an unexpected failure a 500 with a
request id; the OpenAPI document declares each (``api_document``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vigil import __version__
from vigil.server import api, api_document, dashboard, error_shape, health, history_api, quiet_api
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
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(quiet_api.router)
    app.include_router(history_api.router)
    dashboard.install(app)
    error_shape.install(app, max_body=runtime.stack.model.server.max_body)
    api_document.document(app)
    return app
