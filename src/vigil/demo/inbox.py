"""The demo's pager: what the on-call people of the demo stack file received.

The demo's people are paged at Apprise ``json://`` URLs that point here, ``POST /inbox/<person>``
on the demo target, so that nothing leaves the machine. The inbox keeps the last ``MAX_PAGES``
pages in memory and shows them at ``GET /inbox`` as a small page, each with its acknowledge
link to click as the person paged would; ``GET /inbox.json`` answers the same as JSON.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_PAGES = 50  # kept in memory, newest first; older ones are dropped
MAX_BODY = 64_000  # bytes of one POSTed page
PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# The link a page's body ends with (``Acknowledge: http://…/ack/vga_…``); http(s) only, so that
# nothing but a link to Vigil's acknowledge page becomes clickable.
ACK_LINK = re.compile(r"^Acknowledge: (https?://[^\s\"'<>]+/ack/vga_[A-Za-z0-9_-]+)$", re.MULTILINE)
INCIDENT_LINK = re.compile(r"^(https?://[^\s\"'<>]+/incidents/(\d+))$", re.MULTILINE)
REFRESH_SECONDS = 5


class ApprisePage(BaseModel):
    """The body Apprise's ``json://`` sends; fields it may add in later versions are ignored."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field("", max_length=1000)
    message: str = Field("", max_length=MAX_BODY)
    type: str = Field("info", max_length=20)


@dataclass(frozen=True)
class Received:
    person: str
    title: str
    message: str
    kind: str  # Apprise's type: failure (a page), warning (acknowledged), success (resolved), info
    at: datetime

    @property
    def ack_url(self) -> str | None:
        found = ACK_LINK.search(self.message)
        return found.group(1) if found else None

    @property
    def incident_url(self) -> str | None:
        found = INCIDENT_LINK.search(self.message)
        return found.group(1) if found else None

    @property
    def incident_id(self) -> int | None:
        found = INCIDENT_LINK.search(self.message)
        return int(found.group(2)) if found else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "title": self.title,
            "message": self.message,
            "type": self.kind,
            "at": self.at.isoformat(),
            "ack_url": self.ack_url,
            "incident_url": self.incident_url,
            "incident_id": self.incident_id,
        }


class Inbox:
    """The last ``limit`` pages, newest first."""

    def __init__(self, limit: int = MAX_PAGES) -> None:
        self.limit = limit
        self._pages: deque[Received] = deque(maxlen=limit)

    def add(self, person: str, page: ApprisePage, at: datetime | None = None) -> Received:
        received = Received(person, page.title, page.message, page.type, at or datetime.now(UTC))
        self._pages.appendleft(received)
        return received

    def pages(self) -> list[Received]:
        return list(self._pages)


_ENVIRONMENT = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_inbox(inbox: Inbox) -> str:
    source = resources.files("vigil.demo").joinpath("inbox.html").read_text(encoding="utf-8")
    return _ENVIRONMENT.from_string(source).render(
        pages=inbox.pages(), refresh=REFRESH_SECONDS, limit=inbox.limit
    )


def inbox_router(inbox: Inbox) -> APIRouter:
    router = APIRouter()

    @router.post("/inbox/{person}", summary="Take a page for a person (Apprise json:// posts here)")
    async def receive(person: str, request: Request) -> JSONResponse:
        if not PERSON.match(person):
            return _refused(404, "no such person: a name is letters, digits, - and _ (40 at most)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _refused(413, f"a page is at most {MAX_BODY} bytes")
        try:
            page = ApprisePage.model_validate_json(bytes(body))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return _refused(422, f"{where}: {first['msg']} (send what Apprise's json:// sends)")
        received = inbox.add(person, page)
        return JSONResponse({"received": received.as_dict()}, status_code=201)

    @router.get("/inbox", response_class=HTMLResponse, summary="What the demo's on-call people received")
    async def show() -> HTMLResponse:
        return HTMLResponse(render_inbox(inbox))

    @router.get("/inbox.json", summary="The same pages as JSON, newest first")
    async def listed() -> dict[str, Any]:
        return {"pages": [page.as_dict() for page in inbox.pages()]}

    return router


def _refused(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)
