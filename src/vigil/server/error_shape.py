"""One error shape: every error the server answers is JSON ``{"error": "…"}``.

FastAPI's own answers (an unknown route, a wrong method, a request that fails validation) go
through the same handlers as Vigil's errors, and an unexpected failure answers 500 with a
request id that the log line carries too, never a traceback. ``Guard`` also refuses a request
body past ``server.max_body`` with 413 before anyone reads it. ``document`` makes the OpenAPI
document declare each of these answers for every operation that can give it.

Under ``/prometheus`` (Prometheus' query API, ``prometheus_api``) the same answers also carry
Prometheus' keys, ``{"status": "error", "errorType": "bad_data", "error": "…"}``, so that
Grafana and ``promtool`` read them as they read Prometheus' own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.errors import AuthError, VigilError
from vigil.metrics.query_params import BY_STATUS, ErrorType, QueryAPIError

PROMETHEUS_TREE = "/prometheus/"

log = logging.getLogger("vigil.server")
SHOWN_ERRORS = 5  # of a request's validation errors, named in its answer
PART_LIMIT = 300
BODIES = {"POST", "PUT", "PATCH", "DELETE"}  # characters of each, so an answer never echoes a huge input back


class ErrorBody(BaseModel):
    """Every error answer: one line saying what is wrong and how to fix it."""

    error: str = Field(description="What went wrong, in one line.")
    request_id: str | None = Field(None, description="On a 500: the id the server's log line carries.")


def install(app: FastAPI, max_body: int) -> None:
    app.add_exception_handler(VigilError, _vigil_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_middleware(Guard, max_body=max_body)


def error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    path: str = "",
    error_type: ErrorType | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if path.startswith(PROMETHEUS_TREE):
        kind = error_type or BY_STATUS.get(status, ErrorType.BAD_DATA if status < 500 else ErrorType.INTERNAL)
        body = {"status": "error", "errorType": str(kind), "error": message}
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


async def _vigil_error(request: Request, err: VigilError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(err, AuthError) else None
    kind = err.error_type if isinstance(err, QueryAPIError) else None
    return error(getattr(err, "status_code", 400), str(err), headers, path=request.url.path, error_type=kind)


async def _http_error(request: Request, err: HTTPException) -> JSONResponse:
    where = f"{request.method} {request.url.path}"
    messages = {
        404: f"nothing at {where}; the API is described at /docs",
        405: f"{where} is not allowed; {request.url.path} takes {Headers(err.headers).get('allow', 'other methods')}",
    }
    if err.status_code == 400 and request.method in BODIES:  # FastAPI: a body it cannot decode
        messages[400] = "the body cannot be read; send JSON in UTF-8 (Content-Type: application/json)"
    text = messages.get(err.status_code) or str(err.detail)
    return error(err.status_code, text, err.headers, path=request.url.path)


async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
    # Prometheus answers a parameter it cannot read 400 bad_data; Vigil's other APIs 422.
    status = 400 if request.url.path.startswith(PROMETHEUS_TREE) else 422
    return error(status, validation_message(err.errors()), path=request.url.path)


def validation_message(errors: Sequence[Any]) -> str:
    """``body.duration: 'soon' is not a duration; …`` — each fault at its place, in one line."""
    parts = []
    for fault in errors[:SHOWN_ERRORS]:
        where = ".".join(str(p) for p in fault.get("loc", ()))
        text = str(fault.get("msg", "is not valid")).removeprefix("Value error, ")
        part = f"{where}: {text[:1].lower()}{text[1:]}" if where else text
        parts.append(part if len(part) <= PART_LIMIT else part[: PART_LIMIT - 1] + "…")
    more = len(errors) - SHOWN_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit:,} bytes, the most this server takes "
            "(server.max_body in the stack file)",
        )


class Guard:
    """Refuses a body past ``max_body`` (413), and turns an unexpected failure into a 500 with
    a request id instead of plain text, logging the failure once with the same id."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            too_large = BodyTooLarge(self.max_body)
            path = str(scope.get("path", ""))
            await error(413, str(too_large.detail), {"Connection": "close"}, path=path)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # a chunked body, sent without its length
                raise BodyTooLarge(self.max_body)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except Exception as err:
            if started:
                raise
            request_id = secrets.token_hex(6)
            log.error(
                "request %s: %s %s failed: %s: %s",
                request_id,
                scope.get("method"),
                scope.get("path"),
                type(err).__name__,
                err,
                exc_info=err,
            )
            answer = error(
                500,
                f"Vigil failed to answer this request; its log has the details under request {request_id}",
                {"X-Request-Id": request_id},
                path=str(scope.get("path", "")),
                request_id=request_id,
            )
            await answer(scope, receive, send)
