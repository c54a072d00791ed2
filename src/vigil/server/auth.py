"""Who may read and who may change: FastAPI dependencies over API tokens.

Reads need a viewer — the API's by bearer token, the dashboard's by its sign-in cookie —
unless the stack file says ``server: {public_read: true}``; changes always need a role.
``/healthz``, ``/livez`` and ``/readyz`` are open; ``/metrics`` is open unless
``server: {metrics_token: …}`` is set. Failed tokens count against the client's address
(``guesses``): past a limit it is answered 429.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vigil.errors import AuthError
from vigil.server.error_shape import error
from vigil.server.guesses import Guesses, TooManyGuesses
from vigil.server.roles import Role
from vigil.server.runtime import Runtime
from vigil.server.tokens import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="An API token from `vigil token create`.")


def guesses_of(request: Request) -> Guesses:
    """The app's failure counts, made on first use (one table per app, on the runtime's clock)."""
    guesses: Guesses | None = getattr(request.app.state, "guesses", None)
    if guesses is None:
        runtime: Runtime = request.app.state.runtime
        guesses = request.app.state.guesses = Guesses(runtime.clock)
    return guesses


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def checked(request: Request, token: str, what: str) -> Principal:
    """The principal ``token`` stands for; a failure is counted against the client's address."""
    guesses = guesses_of(request)
    guesses.check(address(request))
    runtime: Runtime = request.app.state.runtime
    try:
        return await authenticate(runtime.engine, runtime.clock, token)
    except AuthError:
        guesses.failed(address(request), what)
        raise


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    # Only the Authorization header: the dashboard's cookie is accepted by its own CSRF-checked
    # forms (ui_auth), never by the API, where a cookie would make every call forgeable.
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known  # already checked by ``api_reader`` for this request
    token = credentials.credentials if credentials else None
    if not token:
        raise AuthError(
            "this call needs a bearer token (Authorization: Bearer …); create one with `vigil token create`"
        )
    who = await checked(request, token, "bearer token")
    request.state.principal = who
    return who


async def api_reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reading the API: a viewer's token, or none with ``public_read``. On every API route, so
    a change is refused for a bad token before its own role check."""
    runtime: Runtime = request.app.state.runtime
    if runtime.stack.model.server.public_read and credentials is None:
        return
    await principal(request, credentials)


async def metrics_reader(request: Request) -> None:
    """``/metrics`` asks for ``server.metrics_token`` when one is set; the health checks never do."""
    runtime: Runtime = request.app.state.runtime
    expected = runtime.stack.model.server.metrics_token
    if expected is None or request.url.path != "/metrics":
        return
    guesses_of(request).check(address(request))
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(sent.strip().encode(), expected.encode()):
        guesses_of(request).failed(address(request), "metrics token")
        raise AuthError("/metrics needs the bearer token set as server.metrics_token in the stack file")


def role(needed: Role):  # type: ignore[no-untyped-def]
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        who.require(needed)
        return who

    return check


def install(app: FastAPI) -> None:
    """Answer a limited client 429 with ``Retry-After``."""

    @app.exception_handler(TooManyGuesses)
    async def too_many(request: Request, err: TooManyGuesses) -> JSONResponse:
        headers = {"Retry-After": str(err.retry_after)}
        return error(429, str(err), headers, path=request.url.path)


Reader = Depends(api_reader)
MetricsReader = Depends(metrics_reader)
Responder = Annotated[Principal, Depends(role(Role.RESPONDER))]
Admin = Annotated[Principal, Depends(role(Role.ADMIN))]
