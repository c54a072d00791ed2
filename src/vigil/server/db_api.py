"""The database chores over HTTP: ``/api/v1/db/…``, thin faces over ``DatabaseChores``.

A database is named as the stack file names it (``?db=shop.primary``, a service, an ``env:``
variable), never by a URL: an API caller reaches only the databases the stack file declares.
Listings need a responder; ending sessions and vacuuming need an admin.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vigil.config.durations import Duration, at_most, parse_duration
from vigil.errors import InputError
from vigil.maintenance.chores.model import (
    DEFAULT_ROWS,
    DEFAULT_VACUUM_TIMEOUT,
    LONGEST_VACUUM,
    MOST_ROWS,
    MOST_TABLES,
)
from vigil.maintenance.chores.service import DatabaseChores, chores_for
from vigil.server.api_document import MEANING
from vigil.server.auth import Admin, Responder
from vigil.server.error_shape import ErrorBody

router = APIRouter(tags=["api"])
NAME_LIMIT = 200
LONGEST_AGE = 7 * 86400.0
# Reads here need a responder (403 for a viewer); the database may fail to answer (502).
ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": MEANING[403]},
    502: {"model": ErrorBody, "description": "The database could not be reached or refused the chore."},
}

DbName = Annotated[
    str | None,
    Query(
        max_length=NAME_LIMIT,
        description="A database check (service.check), a service with one, or an env: variable; "
        "default: DATABASE_URL, else the only database check.",
    ),
]
Rows = Annotated[int, Query(ge=1, le=MOST_ROWS, description="At most this many rows.")]


def _chores(request: Request, name: str | None, actor: str = "vigil") -> DatabaseChores:
    if name is not None and "://" in name:
        raise InputError("db names a database of the stack file (service.check); the API takes no URL")
    return chores_for(name, request.app.state.runtime.stack, os.environ, actor=actor)


def _age(value: str, what: str) -> float:
    try:
        seconds = at_most(LONGEST_AGE, what)(parse_duration(value))
    except ValueError as err:
        raise InputError(f"{what}: {err}") from None
    return seconds


@router.get(
    "/api/v1/db/sizes", summary="The largest tables and indexes, and unused indexes", responses=ANSWERS
)
async def sizes(
    request: Request, _who: Responder, db: DbName = None, limit: Rows = DEFAULT_ROWS
) -> dict[str, Any]:
    return (await _chores(request, db).sizes(limit)).as_dict()


@router.get("/api/v1/db/long-queries", summary="Queries running longer than longer_than", responses=ANSWERS)
async def long_queries(
    request: Request,
    _who: Responder,
    db: DbName = None,
    longer_than: Annotated[str, Query(max_length=40, description="e.g. 30s, 5m")] = "1m",
    limit: Rows = DEFAULT_ROWS,
) -> list[dict[str, Any]]:
    found = await _chores(request, db).long_queries(_age(longer_than, "longer_than"), limit)
    return [s.as_dict() for s in found]


@router.get(
    "/api/v1/db/idle-sessions", summary="Sessions kill-idle would end, ending none", responses=ANSWERS
)
async def idle_sessions(
    request: Request,
    _who: Responder,
    db: DbName = None,
    older_than: Annotated[str, Query(max_length=40, description="e.g. 5m")] = "5m",
    limit: Rows = DEFAULT_ROWS,
) -> dict[str, Any]:
    sweep = await _chores(request, db).kill_idle(_age(older_than, "older_than"), kill=False, limit=limit)
    return sweep.as_dict()


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    db: str | None = Field(None, max_length=NAME_LIMIT, description="As ?db= of the listings.")


class KillBody(Body):
    older_than: Annotated[Duration, AfterValidator(at_most(LONGEST_AGE, "older_than"))] = Field(
        description="Idle at least this long, e.g. 5m."
    )
    confirm: bool = Field(False, description="End them; false lists them only, as idle-sessions does.")
    limit: int = Field(DEFAULT_ROWS, ge=1, le=MOST_ROWS)
    keep: list[int] = Field(
        default_factory=list, max_length=MOST_ROWS, description="Session ids never to end."
    )


class VacuumBody(Body):
    tables: list[Annotated[str, Field(min_length=1, max_length=NAME_LIMIT)]] = Field(
        default_factory=list, max_length=MOST_TABLES, description="Tables or schema.table; none: all."
    )
    analyze: bool = True
    timeout: Annotated[Duration, AfterValidator(at_most(LONGEST_VACUUM, "timeout"))] = Field(
        DEFAULT_VACUUM_TIMEOUT, description="Give up after this long, e.g. 30m."
    )


@router.post(
    "/api/v1/db/kill-idle",
    summary="End sessions idle longer than older_than (confirm: true)",
    responses=ANSWERS,
)
async def kill_idle(request: Request, who: Admin, body: KillBody) -> dict[str, Any]:
    # A confirmed sweep goes to the audit log with who asked (maintenance.chores.service).
    chores = _chores(request, body.db, who.name)
    sweep = await chores.kill_idle(
        body.older_than, kill=body.confirm, limit=body.limit, keep=frozenset(body.keep)
    )
    return sweep.as_dict()


@router.post("/api/v1/db/vacuum", summary="VACUUM (ANALYZE) tables or the whole database", responses=ANSWERS)
async def vacuum(request: Request, who: Admin, body: VacuumBody) -> dict[str, Any]:
    done = await _chores(request, body.db, who.name).vacuum(
        body.tables, analyze=body.analyze, longest=body.timeout
    )
    return done.as_dict()
