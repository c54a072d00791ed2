"""The FastAPI application: API, health, metrics and dashboard over one ``Runtime``.

Errors a client caused answer 4xx with ``{"error": "…"}``; the message is the same one-line,
secret-free text the CLI prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from vigil import __version__
from vigil.config.secrets import redact_logs
from vigil.errors import AuthError, VigilError
from vigil.server import api, auth, dashboard, health, history_api, quiet_api, ui_auth
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
    app.include_router(health.router, dependencies=[auth.MetricsReader])
    app.include_router(quiet_api.router, dependencies=reads)
    app.include_router(history_api.router, dependencies=reads)
    dashboard.install(app)
    auth.install(app)
    # Every answer passes the stack file's redactor, and so does every log line.
    app.add_middleware(RedactingMiddleware, redactor=runtime.stack.redactor)
    redact_logs(runtime.stack.redactor)

    @app.exception_handler(VigilError)
    async def vigil_error(_request: Request, err: VigilError) -> JSONResponse:
        status = getattr(err, "status_code", 400)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(err, AuthError) else None
        return JSONResponse({"error": str(err)}, status_code=status, headers=headers)

    return app
