"""The dashboard's backup pages: ``/backups`` lists every job with its last run, its newest
verified backup and its recovery point (red when stale); ``/backups/{job}`` shows one job's
artefacts, a graph of their size and duration, and buttons to back up now or verify the
newest backup.

Thin over ``backups.status`` and the backup watch, like ``/api/v1/backups``; the guards are the
dashboard's own (``ui_auth``): pages need a viewer, the buttons a responder and a form from this
dashboard (CSRF).
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from vigil.backups.jobs import Job, Outcome, job_named, jobs_of
from vigil.backups.manifest import artefacts
from vigil.backups.status import JobStatus, status_of
from vigil.errors import BackupRefused
from vigil.server import templating, ui_auth
from vigil.server.graph_views import MAX_BACKUP_HOURS, backup_graph_of
from vigil.server.runtime import Runtime
from vigil.server.tokens import Principal
from vigil.server.ui_auth import Page, act, page, refuse, runtime_of
from vigil.server.views import check_view
from vigil.store.backup_runs import BackupRuns

router = APIRouter(include_in_schema=False)
SPANS = ((24, "1 day"), (168, "7 days"), (720, "30 days"), (2160, "90 days"))
RUNS_SHOWN = 20


async def status(runtime: Runtime, job: Job) -> JobStatus:
    listed = await asyncio.to_thread(artefacts, job.destination)
    runs = await BackupRuns(runtime.engine).recent(job.name, RUNS_SHOWN)
    return status_of(job, listed, runs, runtime.clock.now())


def check_of(runtime: Runtime, job: Job) -> dict[str, object] | None:
    """The job's check ``backups.<job>`` as the board has it, the verdict that pages."""
    found = runtime.board.checks.get(job.check_id)
    return check_view(found, runtime.clock.now(), runtime.stack.redactor) if found else None


@router.get("/backups", dependencies=[Page])
async def backups_page(request: Request) -> Response:
    runtime = runtime_of(request)
    jobs = [await status(runtime, job) for job in jobs_of(runtime.stack).values()]
    return page(request, "backups.html", jobs=jobs, now=runtime.clock.now())


@router.get("/backups/{job}", dependencies=[Page])
async def backup_page(
    request: Request, job: str, hours: Annotated[int, Query(ge=1, le=MAX_BACKUP_HOURS)] = 24
) -> Response:
    try:
        found = job_named(runtime_of(request).stack, job[:200])
    except BackupRefused as err:
        return refuse(request, 404, str(err), "/backups")
    return await _job_page(request, found, hours)


async def _job_page(request: Request, job: Job, hours: int) -> Response:
    runtime = runtime_of(request)
    return await _shown(
        request,
        job,
        "backup.html",
        graph=await backup_graph_of(runtime, job.name, hours),
        data_url=f"/api/v1/graphs/backups/{quote(job.name, safe='')}?hours={hours}",
        hours=hours,
        spans=SPANS,
    )


async def _shown(request: Request, job: Job, template: str, **context: object) -> Response:
    """``template`` with the job as it stands: its status, its check and its recent runs."""
    runtime = runtime_of(request)
    return page(
        request,
        template,
        200,
        backup=await status(runtime, job),
        check=check_of(runtime, job),
        runs=await BackupRuns(runtime.engine).recent(job.name, RUNS_SHOWN),
        now=runtime.clock.now(),
        **context,
    )


@router.post("/backups/{job}/run")
async def run_now(request: Request, job: str) -> Response:
    return await _step(request, job, verify=False)


@router.post("/backups/{job}/verify")
async def verify_now(request: Request, job: str) -> Response:
    return await _step(request, job, verify=True)


async def _step(request: Request, name: str, *, verify: bool) -> Response:
    """A backup or a verification of the newest, for the signed-in responder; under htmx the
    job's section comes back fresh with the outcome as the page's message."""
    runtime = runtime_of(request)
    done: list[Outcome] = []
    back = f"/backups/{quote(name[:200], safe='')}"

    async def action(who: Principal) -> object:
        job = job_named(runtime.stack, name[:200])
        done.append(await runtime.backups.run_now(job, verify=verify))
        return None

    async def answer() -> Response:
        outcome = done[0]
        if not ui_auth.is_htmx(request):
            return RedirectResponse(back, status_code=303)
        job = job_named(runtime.stack, outcome.job)
        kind = "info" if outcome.ok else "error"
        return await _shown(request, job, "partials/_backup_job.html", said=said(outcome), kind=kind)

    return await act(request, action, answer, back)


def said(outcome: Outcome) -> str:
    """The outcome in one line, as the page's message."""
    if not outcome.ok:
        return f"The {outcome.action} of {outcome.job} failed: {outcome.reason}"
    size = f", {templating.size(outcome.size)}" if outcome.size is not None else ""
    took = templating.duration(outcome.duration_s * 1000)
    return f"The {outcome.action} of {outcome.job} is done in {took}{size}: {outcome.artefact}."
