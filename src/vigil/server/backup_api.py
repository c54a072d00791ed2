"""Backups over HTTP: ``/api/v1/backups``. Thin faces over ``backups.service`` and the backup
watch, like ``vigil backup``. Reads are open to readers; running and verifying need a responder
token, restoring an admin's. An artefact is named by its path and must lie in a job's destination:
the API reads no other file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from vigil.backups.jobs import Job, job_named, job_of_artefact, jobs_of
from vigil.backups.service import listing, restore_artefact, verify_artefact
from vigil.config.backups import VerifyHow
from vigil.errors import BackupRefused
from vigil.server.auth import Admin, Responder
from vigil.server.runtime import Runtime
from vigil.store.backup_runs import BackupRuns

router = APIRouter(tags=["api"])
PATH_LIMIT = 4000


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyBody(Body):
    artefact: str = Field(min_length=1, max_length=PATH_LIMIT, description="The backup file's path.")
    how: VerifyHow | None = Field(None, description="list or restore; default: the job's verify.")


class RestoreBody(Body):
    artefact: str = Field(min_length=1, max_length=PATH_LIMIT, description="The backup file's path.")
    to: str | None = Field(
        None, max_length=PATH_LIMIT, description="A new database: a URL, or a path for sqlite."
    )
    in_place: bool = Field(False, description="Over the job's source, after a safety backup.")
    confirm: bool = Field(False, description="Required with in_place.")


def _artefact(runtime: Runtime, path: str) -> tuple[Path, Job]:
    artefact = Path(path)
    job = job_of_artefact(runtime.stack, artefact)
    if job is None or not artefact.is_absolute():
        raise BackupRefused(f"{path} is not in a backup job's destination (give its absolute path)")
    return artefact, job


@router.get("/api/v1/backups", summary="Every backup job's backups and recent runs")
async def all_backups(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    jobs = list(jobs_of(runtime.stack).values())
    runs = await BackupRuns(runtime.engine).recent()
    return {"backups": listing(jobs), "runs": runs}


@router.get("/api/v1/backups/{job}", summary="One job's backups and recent runs")
async def job_backups(request: Request, job: str) -> dict[str, Any]:
    runtime = runtime_of(request)
    found = job_named(runtime.stack, job)
    return {"backups": listing([found]), "runs": await BackupRuns(runtime.engine).recent(found.name)}


@router.post("/api/v1/backups/{job}/run", summary="Back the job up now")
async def run_backup(request: Request, who: Responder, job: str) -> dict[str, Any]:
    runtime = runtime_of(request)
    outcome = await runtime.backups.run_now(job_named(runtime.stack, job))
    return outcome.as_dict()


@router.post("/api/v1/backups/verify", summary="Verify a backup against its manifest")
async def verify_backup(request: Request, who: Responder, body: VerifyBody) -> dict[str, Any]:
    runtime = runtime_of(request)
    artefact, job = _artefact(runtime, body.artefact)
    record = BackupRuns(runtime.engine).record
    outcome = await verify_artefact(artefact, job, runtime.stack.redactor, how=body.how, record=record)
    await runtime.backups.judge(job)
    return outcome.as_dict()


@router.post("/api/v1/backups/restore", summary="Restore a backup into a new database (admin)")
async def restore_backup(request: Request, who: Admin, body: RestoreBody) -> dict[str, Any]:
    runtime = runtime_of(request)
    artefact, job = _artefact(runtime, body.artefact)
    outcome = await restore_artefact(
        artefact,
        job,
        body.to,
        runtime.stack.redactor,
        in_place=body.in_place,
        confirmed=body.confirm,
        record=BackupRuns(runtime.engine).record,
    )
    return outcome.as_dict()
