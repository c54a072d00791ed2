"""Silences and maintenance windows over HTTP: ``/api/v1/silences``, ``/api/v1/maintenance`` and
the dashboard's banner fragment. Thin faces over ``QuietRules``' services, like ``api``.

Reads are open; creating, expiring, starting and stopping need a responder token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from vigil.alerting.quiet import QuietRules
from vigil.alerting.silences import COMMENT_LIMIT, MATCHER_LIMIT, Matcher, MatchOp
from vigil.config.durations import Duration, at_most
from vigil.server import templating
from vigil.server.api import Id
from vigil.server.api_document import CONFLICT
from vigil.server.auth import Responder

router = APIRouter(tags=["api"])
LONGEST_QUIET = 365 * 86400.0
MATCHER_TEXT_LIMIT = 1000


def quiet_of(request: Request) -> QuietRules:
    quiet: QuietRules = request.app.state.runtime.quiet
    return quiet


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatcherBody(Body):
    name: str = Field(description="A label name, e.g. service.")
    value: str = Field(description="The value, or an anchored regular expression for =~ and !~.")
    op: MatchOp = MatchOp.EQ

    def matcher(self) -> Matcher:
        return Matcher(self.name, self.op, self.value)


MatcherText = Annotated[str, Field(min_length=1, max_length=MATCHER_TEXT_LIMIT)]
Matchers = list[MatcherBody | MatcherText]
# A silence or window past a year is a forgotten one; longer ones overflow dates besides.
QuietDuration = Annotated[Duration, AfterValidator(at_most(LONGEST_QUIET, "a silence or window"))]


class SilenceBody(Body):
    matchers: Matchers = Field(
        min_length=1,
        max_length=MATCHER_LIMIT,
        description='Objects {name, value, op} or strings like "service=api", "severity=~P[12]".',
    )
    starts_at: AwareDatetime | None = Field(None, description="Default: now.")
    ends_at: AwareDatetime | None = Field(None, description="When it ends; or give a duration.")
    duration: QuietDuration | None = Field(
        None, description="How long it lasts, e.g. 2h, at most 365d; or give ends_at."
    )
    comment: str = Field(min_length=1, max_length=COMMENT_LIMIT, description="Why, for whoever wonders.")


class WindowBody(Body):
    name: str = Field(min_length=1, max_length=200)
    duration: QuietDuration = Field(description="How long it lasts from now, e.g. 1h; at most 365d.")
    matchers: Matchers = Field(
        default_factory=list, max_length=MATCHER_LIMIT, description="None quiets every alert."
    )
    comment: str | None = Field(None, max_length=COMMENT_LIMIT)


def _matchers(items: Matchers) -> list[Matcher | str]:
    return [item if isinstance(item, str) else item.matcher() for item in items]


@router.post("/api/v1/silences", status_code=201, summary="Silence alerts that match, for a while")
async def create_silence(request: Request, who: Responder, body: SilenceBody) -> dict[str, Any]:
    quiet = quiet_of(request)
    silence = await quiet.silences.create(
        _matchers(body.matchers),
        comment=body.comment,
        created_by=who.name,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        duration=body.duration,
    )
    return silence.as_dict(quiet.clock.now())


@router.get("/api/v1/silences", summary="Active and pending silences, newest first")
async def list_silences(
    request: Request,
    all_: Annotated[bool, Query(alias="all", description="Expired ones too.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[dict[str, Any]]:
    quiet = quiet_of(request)
    now = quiet.clock.now()
    return [s.as_dict(now) for s in await quiet.silences.list(include_expired=all_, limit=limit)]


@router.get("/api/v1/silences/{silence_id}", summary="One silence")
async def get_silence(request: Request, silence_id: Id) -> dict[str, Any]:
    quiet = quiet_of(request)
    return (await quiet.silences.get(silence_id)).as_dict(quiet.clock.now())


@router.delete("/api/v1/silences/{silence_id}", summary="Expire a silence: it ends now", responses=CONFLICT)
async def expire_silence(request: Request, silence_id: Id, who: Responder) -> dict[str, Any]:
    quiet = quiet_of(request)
    return (await quiet.silences.expire(silence_id)).as_dict(quiet.clock.now())


@router.get("/api/v1/maintenance", summary="Maintenance windows: the active ones, then each schedule's next")
async def list_windows(request: Request) -> list[dict[str, Any]]:
    quiet = quiet_of(request)
    now = quiet.clock.now()
    return [w.as_dict(now) for w in await quiet.maintenance.list()]


@router.post(
    "/api/v1/maintenance", status_code=201, summary="Start a maintenance window now", responses=CONFLICT
)
async def start_window(request: Request, who: Responder, body: WindowBody) -> dict[str, Any]:
    quiet = quiet_of(request)
    window = await quiet.maintenance.start(
        body.name,
        duration=body.duration,
        started_by=who.name,
        matchers=_matchers(body.matchers),
        comment=body.comment,
    )
    return window.as_dict(quiet.clock.now())


@router.delete("/api/v1/maintenance/{name}", summary="Stop a maintenance window started by hand")
async def stop_window(request: Request, name: str, who: Responder) -> dict[str, Any]:
    quiet = quiet_of(request)
    return (await quiet.maintenance.stop(name, who.name)).as_dict(quiet.clock.now())


@router.get("/fragments/quiet", include_in_schema=False)
async def quiet_fragment(request: Request) -> Response:
    state = await quiet_of(request).active()
    return templating.html(templating.render("partials/_quiet.html", quiet=state))
