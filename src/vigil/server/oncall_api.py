"""On call over HTTP: ``GET /api/v1/oncall`` (who now and next, per schedule), each schedule's
calendar feed ``GET /api/v1/oncall/{schedule}.ics``, and the overview's "On call" fragment.
Thin faces over ``OnCall`` (``runtime.oncall``).

Calendar apps cannot send an Authorization header, so the feed also takes ``?token=`` — and
only a **viewer** token there: a link in a calendar is kept by the calendar service, synced to
phones and shown in settings, so it must carry no power to change anything. A responder's or
admin's token in the URL is refused (403) with how to make a viewer one. With
``server.public_read`` the feed, like every read, needs no token.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from vigil.errors import ForbiddenError
from vigil.oncall.status import ScheduleStatus, instant
from vigil.server import templating
from vigil.server.auth import _bearer, api_reader, checked
from vigil.server.error_shape import ErrorBody
from vigil.server.roles import Role
from vigil.server.runtime import Runtime

router = APIRouter(tags=["api"])
calendars = APIRouter(tags=["api"])
ScheduleName = Annotated[str, Path(max_length=100, description="The schedule's name in oncall.schedules.")]
At = Annotated[
    str | None,
    Query(
        max_length=40, description="When: an ISO 8601 time (no offset: each schedule's zone); default now."
    ),
]
CALENDAR_TYPE = "text/calendar; charset=utf-8"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get(
    "/api/v1/oncall", summary="Who is on call now (or at ?at=), until when, and who is next, per schedule"
)
async def who_is_on_call(request: Request, at: At = None) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    when = instant(at, runtime.clock.now())
    statuses = await asyncio.to_thread(_statuses, runtime, when)
    return [status.as_dict() for status in statuses]


def _statuses(runtime: Runtime, at: datetime) -> list[ScheduleStatus]:
    # In a thread: walking many layers' shifts is CPU work that must not hold up the event loop.
    return [runtime.oncall.status(name, at) for name in runtime.oncall.names]


async def calendar_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None, Query(max_length=200, description="A viewer token, for calendar apps.")
    ] = None,
) -> None:
    if token is None or credentials is not None:
        await api_reader(request, credentials)
        return
    who = await checked(request, token, "calendar token")
    if who.role is not Role.VIEWER:
        raise ForbiddenError(
            f"token {who.name!r} is a {who.role} token: a calendar link is kept by calendar services, "
            "so it takes only a viewer token (vigil token create --role viewer --name calendar)"
        )


@calendars.get(
    "/api/v1/oncall/{schedule}.ics",
    summary="A schedule's shifts as an iCalendar feed (the past week and the next 12 weeks)",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
        403: {"model": ErrorBody, "description": "A token other than a viewer's in ?token=."},
    },
    dependencies=[Depends(calendar_reader)],
)
async def calendar_feed(request: Request, schedule: ScheduleName) -> Response:
    runtime = runtime_of(request)
    document = await asyncio.to_thread(runtime.oncall.feed, schedule, runtime.clock.now())
    headers = {"Content-Disposition": f'inline; filename="{schedule}.ics"', "Cache-Control": "no-store"}
    return Response(document, media_type=CALENDAR_TYPE, headers=headers)


@router.get("/fragments/oncall", include_in_schema=False)
async def oncall_fragment(request: Request) -> Response:
    runtime = runtime_of(request)
    rows = [_row(status) for status in await asyncio.to_thread(_statuses, runtime, runtime.clock.now())]
    return templating.html(templating.render("partials/_oncall.html", oncall=rows))


def _row(status: ScheduleStatus) -> dict[str, str]:
    """Times in the schedule's own zone, as its people read them."""
    zone = ZoneInfo(status.timezone)
    shown = {name: display for name, display in status.people}
    following = status.next.people if status.next else ()
    return {
        "schedule": status.schedule,
        "now": ", ".join(shown.values()),
        "until": status.until.astimezone(zone).strftime("%a %d %b %H:%M %Z") if status.until else "",
        "next": ", ".join(following),
    }
