"""The FastAPI application: API, health, metrics and dashboard over one ``Runtime``.

Errors a client caused answer 4xx with ``{"error": "…"}``; the message is the same one-line,
secret-free text the CLI prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vigil import __version__
from vigil.errors import AuthError, VigilError
from vigil.server import api, dashboard, health, history_api, quiet_api
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

    @app.exception_handler(VigilError)
    async def vigil_error(_request: Request, err: VigilError) -> JSONResponse:
        status = getattr(err, "status_code", 400)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(err, AuthError) else None
        return JSONResponse({"error": str(err)}, status_code=status, headers=headers)

    return app
