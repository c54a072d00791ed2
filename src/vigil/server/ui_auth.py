"""Signing in to the dashboard, and the guards every dashboard page and action pass.

Reading needs a signed-in viewer unless the stack file says ``server: {public_read: true}``;
acknowledge, resolve and note need a responder. The browser keeps an API token, pasted once on
``/login`` or given by a one-time login link, in an HttpOnly, SameSite=Strict cookie.

Forms are guarded twice against another site posting them. Their CSRF token is an HMAC of the
browser's session id (an HttpOnly cookie) under a key only this server knows, so a cookie and
field planted together are worth nothing; and the ``Origin`` (or ``Referer``) a browser sends
must be this dashboard's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.datastructures import FormData

from vigil.errors import AuthError, ForbiddenError, VigilError
from vigil.server import templating
from vigil.server.auth import _bearer, address, api_reader, checked, guesses_of
from vigil.server.guesses import TooManyGuesses
from vigil.server.roles import Role
from vigil.server.runtime import Runtime
from vigil.server.tokens import Principal, redeem_login_link

TOKEN_COOKIE = "vigil_token"
SESSION_COOKIE = "vigil_session"
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
    "private": "This dashboard is private; sign in with a token to read it.",
}

router = APIRouter(include_in_schema=False)


class SignInNeeded(AuthError):
    """A dashboard page read without a signed-in viewer."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def page_reader(request: Request) -> None:
    """Reading a dashboard page or fragment: a viewer's cookie, or none with ``public_read``."""
    if runtime_of(request).stack.model.server.public_read:
        return
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise SignInNeeded("sign in to read this dashboard")
    try:
        await checked(request, token, "sign-in cookie")
    except TooManyGuesses:
        raise
    except AuthError:
        raise SignInNeeded("the token this browser signed in with is unknown or revoked") from None


async def reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """The read guard for a router serving both the API and dashboard fragments."""
    if request.url.path.startswith("/api/"):
        await api_reader(request, credentials)
    else:
        await page_reader(request)


Page = Depends(page_reader)


def page(request: Request, template: str, status: int = 200, **context: object) -> Response:
    """A page or fragment with the CSRF token its forms send back, opening a session if new."""
    session = _session(request)
    fresh = session is None
    session = session or secrets.token_urlsafe(32)
    context.setdefault("scheme", runtime_of(request).stack.model.scheme)  # severities' order and colour
    body = templating.render(
        template, csrf=csrf_token(request, session), signed_in=TOKEN_COOKIE in request.cookies, **context
    )
    response = templating.html(body, status)
    if fresh:
        _set_cookie(request, response, SESSION_COOKIE, session)
    return response


def refuse(
    request: Request, status: int, message: str, back: str = "/", headers: dict[str, str] | None = None
) -> Response:
    """A refusal people can read: in place of the flash line under htmx, a page otherwise."""
    if is_htmx(request):
        body = templating.render("partials/_flash.html", message=message, kind="error", oob=False)
        extra = {"HX-Retarget": "#flash", "HX-Reswap": "outerHTML", **(headers or {})}
        return templating.html(body, status, extra)
    response = page(request, "message.html", status, title=_title(status), detail=message, back=back)
    response.headers.update(headers or {})
    return response


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
    try:
        who = await checked(request, token, "sign-in cookie")
        who.require(Role.RESPONDER)
        await action(who)
    except TooManyGuesses as err:
        return refuse(request, 429, str(err), back, {"Retry-After": str(err.retry_after)})
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


def csrf_token(request: Request, session: str) -> str:
    key: bytes | None = getattr(request.app.state, "csrf_key", None)
    if key is None:
        # One key per server process: pages rendered before a restart need a reload, no more.
        key = request.app.state.csrf_key = secrets.token_bytes(32)
    return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, form: FormData) -> bool:
    session = _session(request)
    if session is None or not same_origin(request):
        return False
    expected = csrf_token(request, session)
    sent = [request.headers.get(CSRF_HEADER), form.get(CSRF_FIELD)]
    return any(isinstance(v, str) and secrets.compare_digest(v, expected) for v in sent)


def same_origin(request: Request) -> bool:
    """The ``Origin`` a browser sends with a form, or failing it the ``Referer``'s, is this
    dashboard's (as reached, or as ``server.public_url`` says). A client that sends neither
    (curl, an old browser) still has to pass the CSRF token."""
    sent = request.headers.get("Origin")
    if sent is None:
        referer = request.headers.get("Referer")
        if referer is None:
            return True
        parts = urlsplit(referer)
        sent = f"{parts.scheme}://{parts.netloc}"
    ours = {f"{request.url.scheme}://{request.headers.get('Host', request.url.netloc)}"}
    public = runtime_of(request).stack.model.server.public_url
    if public:
        parts = urlsplit(public)
        ours.add(f"{parts.scheme}://{parts.netloc}")
    return sent.rstrip("/").lower() in {o.lower() for o in ours}


@router.get("/login")
async def login_page(request: Request, reason: str | None = None) -> Response:
    return page(request, "login.html", message=SIGN_IN_REASONS.get(reason or ""), kind="info")


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, await request.form()):
        return refuse(request, 403, CSRF_REFUSED, "/login")
    try:
        await checked(request, token.strip(), "sign-in")
    except TooManyGuesses as err:
        response = page(request, "login.html", 429, message=str(err).capitalize() + ".", kind="error")
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    except AuthError:
        message = "That token is unknown or revoked. Create one with: vigil token create --role responder"
        return page(request, "login.html", 401, message=message, kind="error")
    return _signed_in(request, token.strip())


@router.get("/login/link")
async def login_link(request: Request, code: str = "") -> Response:
    """A one-time link (``vigil demo`` prints one) signs this browser in and is spent."""
    guesses = guesses_of(request)
    runtime = runtime_of(request)
    try:
        guesses.check(address(request))
        _, token = await redeem_login_link(runtime.engine, runtime.clock, code)
    except TooManyGuesses as err:
        return refuse(request, 429, str(err), "/login", {"Retry-After": str(err.retry_after)})
    except AuthError as err:
        guesses.failed(address(request), "login link")
        return page(request, "login.html", 401, message=str(err).capitalize() + ".", kind="error")
    return _signed_in(request, token)


@router.post("/logout")
async def logout(request: Request) -> Response:
    if not csrf_ok(request, await request.form()):
        return refuse(request, 403, CSRF_REFUSED)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


def install(app: FastAPI) -> None:
    """Sign-in routes, and a page that asks to sign in answering a read refused for want of one."""
    app.include_router(router)

    @app.exception_handler(SignInNeeded)
    async def sign_in_first(request: Request, _err: SignInNeeded) -> Response:
        return _to_sign_in(request, "private")


def _signed_in(request: Request, token: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, TOKEN_COOKIE, token)
    # A new session, so a session id planted before signing in (login CSRF) is worth nothing after.
    _set_cookie(request, response, SESSION_COOKIE, secrets.token_urlsafe(32))
    return response


def _to_sign_in(request: Request, reason: str) -> Response:
    url = f"/login?reason={reason}"
    if is_htmx(request):
        # A redirect htmx would follow inside the fragment; HX-Redirect moves the whole page.
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _session(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and 32 <= len(value) <= 128 else None


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_AGE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def _title(status: int) -> str:
    return {
        401: "Sign in needed",
        403: "Not allowed",
        404: "Not found",
        409: "Not possible now",
        429: "Too many attempts",
    }.get(status, "Cannot do that")
