"""Signing in to the dashboard, and the guard every dashboard action passes.

Reads are open. Acknowledge, resolve and note need a responder: the browser keeps an API
token, pasted once on ``/login``, in an HttpOnly, SameSite=Strict cookie. Forms carry a
double-submit CSRF token: a random ``vigil_csrf`` cookie whose value each form (and htmx,
through the ``X-CSRF-Token`` header) sends back. Another site can make a browser send the
cookie, but cannot read it to put the same value in the form.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from vigil.errors import AuthError, ForbiddenError, VigilError
from vigil.server import templating
from vigil.server.runtime import Runtime
from vigil.server.tokens import Principal, Role, authenticate

TOKEN_COOKIE = "vigil_token"
CSRF_COOKIE = "vigil_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_AGE = 30 * 86400  # an on-call week or four without signing in again

CSRF_REFUSED = (
    "This form did not come from this dashboard or is out of date (CSRF check failed). "
    "Reload the page and try again."
)
SIGN_IN_REASONS = {
    "needed": "Acknowledge, resolve and notes need a responder token; sign in first.",
    "revoked": "The token you signed in with is unknown or revoked; sign in with another.",
}

router = APIRouter(include_in_schema=False)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(request: Request, template: str, status: int = 200, **context: object) -> Response:
    """A page or fragment with the CSRF token its forms send back, issuing the cookie if new."""
    token = _csrf_cookie(request)
    fresh = token is None
    token = token or secrets.token_urlsafe(32)
    body = templating.render(template, csrf=token, signed_in=TOKEN_COOKIE in request.cookies, **context)
    response = templating.html(body, status)
    if fresh:
        _set_cookie(request, response, CSRF_COOKIE, token, httponly=False)
    return response


def refuse(request: Request, status: int, message: str, back: str = "/") -> Response:
    """A refusal people can read: in place of the flash line under htmx, a page otherwise."""
    if is_htmx(request):
        body = templating.render("partials/_flash.html", message=message, kind="error", oob=False)
        return templating.html(body, status, {"HX-Retarget": "#flash", "HX-Reswap": "outerHTML"})
    return page(request, "message.html", status, title=_title(status), detail=message, back=back)


async def act(
    request: Request,
    action: Callable[[Principal], Awaitable[object]],
    done: Callable[[], Awaitable[Response]],
    back: str,
) -> Response:
    """Run ``action`` for the signed-in responder and answer with ``done()``.

    CSRF is checked before anything touches the database, then the token and its role; an
    error from the incident service (a conflict, an unknown incident) becomes a message.
    """
    if not csrf_ok(request, await request.form()):
        return refuse(request, 403, CSRF_REFUSED, back)
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return _to_sign_in(request, "needed")
    runtime = runtime_of(request)
    try:
        who = await authenticate(runtime.engine, runtime.clock, token)
        who.require(Role.RESPONDER)
        await action(who)
    except AuthError:
        response = _to_sign_in(request, "revoked")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response
    except ForbiddenError as err:
        hint = "; sign in with a responder token (vigil token create --role responder)"
        return refuse(request, 403, f"{err}{hint}", back)
    except VigilError as err:
        return refuse(request, getattr(err, "status_code", 400), str(err), back)
    return await done()


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = _csrf_cookie(request)
    if expected is None:
        return False
    sent = [request.headers.get(CSRF_HEADER), form.get(CSRF_FIELD)]
    return any(isinstance(v, str) and secrets.compare_digest(v, expected) for v in sent)


@router.get("/login")
async def login_page(request: Request, reason: str | None = None) -> Response:
    return page(request, "login.html", message=SIGN_IN_REASONS.get(reason or ""), kind="info")


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, await request.form()):
        return refuse(request, 403, CSRF_REFUSED, "/login")
    runtime = runtime_of(request)
    try:
        await authenticate(runtime.engine, runtime.clock, token.strip())
    except AuthError:
        message = "That token is unknown or revoked. Create one with: vigil token create --role responder"
        return page(request, "login.html", 401, message=message, kind="error")
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, TOKEN_COOKIE, token.strip(), httponly=True)
    # A new CSRF value on sign-in, so one planted before it (login CSRF) is worth nothing after.
    _set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(32), httponly=False)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    if not csrf_ok(request, await request.form()):
        return refuse(request, 403, CSRF_REFUSED)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


def _to_sign_in(request: Request, reason: str) -> Response:
    url = f"/login?reason={reason}"
    if is_htmx(request):
        # A redirect htmx would follow inside the fragment; HX-Redirect moves the whole page.
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _csrf_cookie(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE)
    return value if value and 32 <= len(value) <= 128 else None


def _set_cookie(request: Request, response: Response, name: str, value: str, *, httponly: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_AGE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=httponly,
        samesite="strict",
    )


def _title(status: int) -> str:
    return {401: "Sign in needed", 403: "Not allowed", 404: "Not found", 409: "Not possible now"}.get(
        status, "Cannot do that"
    )
