"""FastAPI dependencies for bearer-token auth: reads are open, changes need a role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vigil.errors import AuthError
from vigil.server.tokens import Principal, Role, authenticate

_bearer = HTTPBearer(auto_error=False, description="An API token from `vigil token create`.")


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    # Only the Authorization header: the dashboard's cookie is accepted by its own CSRF-checked
    # forms (ui_auth), never by the API, where a cookie would make every call forgeable.
    token = credentials.credentials if credentials else None
    if not token:
        raise AuthError(
            "this call needs a bearer token (Authorization: Bearer …); create one with `vigil token create`"
        )
    runtime = request.app.state.runtime
    return await authenticate(runtime.engine, runtime.clock, token)


def role(needed: Role):  # type: ignore[no-untyped-def]
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        who.require(needed)
        return who

    return check


Responder = Annotated[Principal, Depends(role(Role.RESPONDER))]
Admin = Annotated[Principal, Depends(role(Role.ADMIN))]
