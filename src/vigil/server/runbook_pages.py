"""The dashboard's runbook pages: ``/runbooks`` lists the procedures, ``/runbooks/{procedure}``
shows one with a button per step, and a click posts to ``/runbook-runs``, which starts the
step for the signed-in responder and answers the box its output streams into.

Thin over ``runbooks.launch``, like the API; the guards are the dashboard's own (``ui_auth``):
pages need a viewer, a run needs a responder and a form from this dashboard (CSRF).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.datastructures import FormData

from vigil.errors import NotFoundError, RunbookError, RunRefused, VigilError
from vigil.runbooks.live import LiveRun
from vigil.runbooks.outcome import RunRequest
from vigil.runbooks.variables import MAX_PARAMS
from vigil.server import procedure_view, ui_auth
from vigil.server.runbook_api import events, launcher, live_runs, run_of
from vigil.server.tokens import Principal
from vigil.server.ui_auth import Page, act, page, refuse, runtime_of

router = APIRouter(include_in_schema=False)
PARAM_FIELD = "param."


@router.get("/runbooks", dependencies=[Page])
async def runbooks_page(request: Request) -> Response:
    library = runtime_of(request).library
    runbooks = [
        {"title": r.title, "file": r.file, "procedures": [procedure_view.procedure(s) for s in r.procedures]}
        for r in library.runbooks
        if r.procedures
    ]
    return page(request, "runbooks.html", runbooks=runbooks)


@router.get("/runbooks/{procedure:path}", dependencies=[Page])
async def procedure_page(request: Request, procedure: str) -> Response:
    try:
        section = runtime_of(request).library.procedure(procedure[:1000])
    except NotFoundError as err:
        return refuse(request, 404, str(err), "/runbooks")
    return page(request, "runbook.html", procedure=section)


@router.post("/runbook-runs")
async def start_run(request: Request) -> Response:
    started: list[LiveRun] = []
    refused: list[VigilError] = []

    async def action(who: Principal) -> object:
        try:
            ask = run_request(await request.form(), who.name)
            started.append(await launcher(request).launch(ask))
        except (RunRefused, RunbookError, NotFoundError) as err:
            refused.append(err)  # said in the step's own box, not at the top of the page
        return None

    async def done() -> Response:
        if refused:
            status = getattr(refused[0], "status_code", 422)
            return page(request, "partials/_run_output.html", status, refusal=str(refused[0]), run=None)
        if not ui_auth.is_htmx(request):
            return RedirectResponse(f"/runbook-runs/{started[0].id}", status_code=303)
        return page(request, "partials/_run_output.html", run=started[0], refusal=None)

    return await act(request, action, done, request.headers.get("Referer") or "/runbooks")


def run_request(form: FormData, actor: str) -> RunRequest:
    """The run a step's form asks for; a field that is not as the form sends it is refused."""
    procedure = _field(form, "procedure", 1000)
    step = _field(form, "step", 5)
    incident = _field(form, "incident", 12)
    if not procedure or not step.isdigit() or (incident and not incident.isdigit()):
        raise RunbookError("this form needs a procedure, a step number and at most an incident number")
    # Names and values are the runner's to judge (variables.check_params); here only how many.
    params = {
        k[len(PARAM_FIELD) :]: v.strip()
        for k, v in form.multi_items()
        if k.startswith(PARAM_FIELD) and isinstance(v, str)
    }
    if len(params) > MAX_PARAMS:
        raise RunbookError(f"{len(params)} parameters; at most {MAX_PARAMS}")
    return RunRequest(
        procedure=procedure,
        actor=actor,
        step=int(step),
        params=params,
        confirmed=form.get("confirm") == "true",
        incident_id=int(incident) if incident else None,
    )


def _field(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@router.get("/runbook-runs/{run_id}", dependencies=[Page])
async def run_page(request: Request, run_id: str) -> Response:
    try:
        live = live_runs(request).get(run_id[:64])
    except NotFoundError as err:
        return refuse(request, 404, str(err), "/runbooks")
    return page(request, "runbook_run.html", run=live)


@router.get("/runbook-runs/{run_id}/stream", dependencies=[Page], response_class=EventSourceResponse)
async def run_stream(
    request: Request,
    live: Annotated[LiveRun, Depends(run_of)],
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    async for event in events(live, runtime_of(request), last_event_id):
        yield event
