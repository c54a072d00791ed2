"""``/ack/<token>``: acknowledging an incident from the link its page carried, without signing in.

GET only shows what the link would do and a button; the POST acknowledges. Mail scanners and
chat apps fetch the links in a message to preview them, so a GET that acknowledged would
acknowledge every page before anyone read it. The POST needs no CSRF token: the link's token is
the credential, and another site cannot know it; a form posted from elsewhere (its ``Origin``
not this dashboard's) is refused all the same. The link acknowledges one incident once and
grants nothing else: no session, no cookie, no other page.

Refusals answer 403 (unknown or expired link) or 409 (spent, or the incident is no longer
triggered), as a page, or as ``{"error": …}`` to a client that asks for JSON.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from vigil.errors import ForbiddenError, VigilError
from vigil.incidents.ack_links import AckLinks
from vigil.server import templating
from vigil.server.auth import address, guesses_of
from vigil.server.guesses import TooManyGuesses
from vigil.server.ui_auth import runtime_of, same_origin

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(description="The token the page carried.")]
OTHER_SITE = "this form was posted from another site; open the link from your page and press the button"


def links_of(request: Request) -> AckLinks:
    links: AckLinks = runtime_of(request).ack_links
    return links


@router.get("/ack/{token}")
async def confirm(request: Request, token: Token) -> Response:
    try:
        guesses_of(request).check(address(request))
        link = await links_of(request).look(token)
    except VigilError as err:
        return _refused(request, err)
    if _wants_json(request):
        return JSONResponse(
            {
                "incident": link.incident.as_dict(),
                "acknowledge_as": link.actor,
                "expires_at": link.expires_at.isoformat(),
            }
        )
    return _page("ack.html", incident=link.incident, actor=link.actor, expires_at=link.expires_at, done=False)


@router.post("/ack/{token}")
async def acknowledge(request: Request, token: Token) -> Response:
    try:
        guesses_of(request).check(address(request))
        if not same_origin(request):
            raise ForbiddenError(OTHER_SITE)
        incident = await links_of(request).redeem(token)
    except VigilError as err:
        return _refused(request, err)
    if _wants_json(request):
        return JSONResponse({"incident": incident.as_dict()})
    actor = incident.acknowledged_by or ""
    return _page("ack.html", incident=incident, actor=actor, expires_at=None, done=True)


def _refused(request: Request, err: VigilError) -> Response:
    if isinstance(err, TooManyGuesses):
        headers = {"Retry-After": str(err.retry_after)}
        return _error(request, 429, str(err), headers)
    status = getattr(err, "status_code", 400)
    if status == 403:
        guesses_of(request).failed(address(request), "acknowledge link")
    return _error(request, status, str(err))


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    title = {403: "This link cannot acknowledge", 409: "Nothing to acknowledge", 429: "Too many attempts"}
    body = templating.render(
        "message.html",
        title=title.get(status, "Cannot do that"),
        detail=message,
        back="/",
        csrf="",
        signed_in=False,
    )
    return templating.html(body, status, headers)


def _page(template: str, **context: object) -> Response:
    # No session cookie and no CSRF token: this page leads to nothing but its own button.
    return templating.html(templating.render(template, csrf="", signed_in=False, **context))


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept
