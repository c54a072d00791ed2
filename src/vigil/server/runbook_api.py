"""Runbook procedures over HTTP: list them, run one (or one of its steps), watch it.

A thin face over ``runbooks.launch``: ``POST /api/v1/runbooks/{procedure}/run`` checks the
request and starts the run, answering 202 with where to watch it, or with ``wait`` the outcome;
``/api/v1/runbook-runs/{id}`` is its status and ``…/stream`` its output as Server-Sent Events.
Reads need a viewer; running needs a responder.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vigil.errors import RunRefused
from vigil.runbooks.launch import Launcher
from vigil.runbooks.live import EventKind, LiveEvent, LiveRun, LiveRuns
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.runbooks.variables import MAX_PARAM, MAX_PARAMS
from vigil.server import procedure_view
from vigil.server.api import LARGEST_ID
from vigil.server.api_document import CONFLICT
from vigil.server.auth import Responder
from vigil.server.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["runbooks"])

WAIT_LIMIT = 300.0  # seconds a ``wait`` call holds the connection; past it, 202 as without wait
Procedure = Annotated[
    str,
    Path(
        min_length=1,
        max_length=1000,
        description="An address, FILE#slug with # as %23 (production.md%23issue-502-bad-gateway), "
        "or a title, closely enough.",
    ),
]
RunId = Annotated[str, Path(min_length=1, max_length=64, description="The id a run was started with.")]
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
ParamValue = Annotated[str, StringConstraints(max_length=MAX_PARAM)]


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int | None = Field(None, ge=1, le=1000, description="Run this step only (1-based); default: all.")
    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description='Placeholders filled in, as --param does: {"commit": "abc123"} for <commit>.',
    )
    dry_run: bool = Field(False, description="Resolve and show each step, secrets redacted; run nothing.")
    confirm: bool = Field(False, description="Destructive steps may run (the dashboard's confirmation).")
    incident: int | None = Field(None, ge=1, le=LARGEST_ID, description="Record the run on this incident.")
    wait: bool = Field(
        False, description=f"Answer with the outcome once the run ends (at most {WAIT_LIMIT:.0f} s)."
    )


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def live_runs(request: Request) -> LiveRuns:
    runs: LiveRuns = runtime_of(request).live
    return runs


def launcher(request: Request) -> Launcher:
    found: Launcher = runtime_of(request).launcher
    return found


def run_of(request: Request, run_id: RunId) -> LiveRun:
    """The run asked for, looked up before a stream starts so an unknown id is a 404."""
    return live_runs(request).get(run_id)


Run = Annotated[LiveRun, Depends(run_of)]


def where(live: LiveRun) -> dict[str, str]:
    status = f"/api/v1/runbook-runs/{live.id}"
    return {"run": live.id, "status": status, "stream": f"{status}/stream"}


@router.get("/runbooks", summary="The procedures of the stack file's runbooks")
async def list_procedures(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="Only those whose title or id has this.")] = "",
) -> list[dict[str, Any]]:
    return procedure_view.listing(runtime_of(request).library, q)


@router.get("/runbooks/{procedure:path}", summary="One procedure with its steps")
async def get_procedure(request: Request, procedure: Procedure) -> dict[str, Any]:
    return procedure_view.procedure_detail(runtime_of(request).library.procedure(procedure))


@router.post(
    "/runbooks/{procedure:path}/run",
    status_code=202,
    summary="Run a procedure, or one step of it",
    description=(
        "202 with where to watch the run (`run`, `status`, `stream`). With `wait`: 200 and the "
        "outcome when every step succeeded, 424 with `error` and `outcome` when a step failed or "
        "timed out. Refused before anything runs: 404 for an unknown procedure (the error lists the "
        "closest), 422 for a step it does not have or one missing a variable or `params` (named), "
        "409 for a destructive step without `confirm: true` (the error says what matched)."
    ),
    responses={
        **CONFLICT,
        200: {
            "description": "With wait: the run ended and every step succeeded; its outcome.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        424: {"description": "With wait: a step failed or timed out; error and outcome."},
    },
)
async def run_procedure(
    request: Request, procedure: Procedure, who: Responder, body: RunBody | None = None
) -> Any:
    body = body or RunBody.model_validate({})
    ask = RunRequest(
        procedure=procedure,
        actor=who.name,
        step=body.step,
        params=dict(body.params),
        dry_run=body.dry_run,
        confirmed=body.confirm,
        incident_id=body.incident,
    )
    try:
        live = await launcher(request).launch(ask)
    except RunRefused as err:
        planned = err.outcome.as_dict() if err.outcome is not None else None
        return JSONResponse({"error": str(err), "outcome": planned}, status_code=err.status_code)
    if not body.wait:
        return JSONResponse(where(live), status_code=202)
    try:
        await asyncio.wait_for(live.ended.wait(), WAIT_LIMIT)
    except TimeoutError:
        return JSONResponse(where(live), status_code=202)
    return finished(live)


def finished(live: LiveRun) -> JSONResponse:
    summary = live.summary()
    if live.exit_code == RunExit.OK:
        return JSONResponse(summary, status_code=200)
    steps = live.outcome.steps if live.outcome else ()
    failed = next((s for s in steps if s.status in (StepStatus.FAILED, StepStatus.TIMED_OUT)), None)
    if failed is not None:
        how = failed.reason or f"exit {failed.exit_code}"
        error = f"step {failed.number} {failed.status.replace('_', ' ')}: {how}"
    else:
        error = live.error or "the run did not succeed"
    return JSONResponse({**summary, "error": error}, status_code=424)


@router.get("/runbook-runs/{run_id}", summary="A run: its status and, once it ended, its outcome")
async def get_run(live: Run) -> dict[str, Any]:
    return live.summary()


@router.get(
    "/runbook-runs/{run_id}/stream",
    response_class=EventSourceResponse,
    summary="A run's output as Server-Sent Events",
    description=(
        "Every line so far, then each new one as it is printed (`event: line`, data "
        "`{step, line}`); `event: step` with a step's outcome when it is known; `event: lost` "
        "when this client fell behind and lines were dropped; `event: done` with the run's "
        "status and outcome, then the stream ends. Each event has an id: a client that "
        "reconnects with Last-Event-ID picks up after it."
    ),
)
async def stream_run(
    request: Request,
    live: Run,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    async for event in events(live, runtime_of(request), last_event_id):
        yield event


async def events(
    live: LiveRun, runtime: Runtime, last_event_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    """The stream both faces serve: the API's and the dashboard's (signed in by cookie)."""
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    past, watcher = live.watch(after)
    redact = runtime.stack.redactor
    try:
        for event in past:
            yield _sse(event, redact)
        while watcher is not None:
            event = await watcher.queue.get()
            yield _sse(event, redact)
            if event.kind is EventKind.DONE:
                return
    finally:
        if watcher is not None:
            live.unwatch(watcher)


def _sse(event: LiveEvent, redact: Callable[[str], str]) -> ServerSentEvent:
    # The runner's lines are redacted already; this is the net under them, as for every answer.
    data = redact(json.dumps(event.data, ensure_ascii=False))
    return ServerSentEvent(event=str(event.kind), raw_data=data, id=str(event.seq) if event.seq else None)
