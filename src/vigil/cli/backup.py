"""``vigil backup run|list|verify|restore``: the stack file's backup jobs, from a shell.

The same service functions as ``/api/v1/backups`` and ``vigil up``'s schedule. A run, a
verification and a restore are recorded in the store when there is one (else said on stderr).
Exit 0 on success, 1 when the operation failed (its reason on stderr), 2 when asked wrongly.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.app import fail, stderr
from vigil.cli.options import DbOption, JsonOption, StackOption
from vigil.errors import StoreMissing, VigilError

if TYPE_CHECKING:
    from vigil.backups.jobs import Job, Outcome
    from vigil.backups.service import Record
    from vigil.config.load import Stack
    from vigil.store.backup_runs import BackupRuns

backup_app = typer.Typer(
    help="Backup jobs: run, list, verify and restore their backups.", no_args_is_help=True
)
Artefact = Annotated[Path, typer.Argument(help="A backup file (its manifest .json lies beside it).")]


def _session(
    config: Path | None, db: str | None, work: Callable[[Stack, Record], Awaitable[Outcome]], as_json: bool
) -> None:
    """Run ``work`` with the stack file and a recorder into its store; print the outcome, exit 0 or 1.
    The store opens beside the work, not before it: its code takes a good part of a second to
    load, and the first outcome is recorded only when the work is done."""
    from vigil.cli.store_session import locate_stack

    async def go() -> Outcome:
        stack, path = locate_stack(config, db)
        store = asyncio.ensure_future(_store(stack, path, db))

        async def record(outcome: Outcome) -> None:
            if (runs := await store) is not None:
                await runs.record(outcome)

        try:
            return await work(stack, record)
        finally:
            await _close(store)

    try:
        outcome = asyncio.run(go())
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(), indent=2))
    elif outcome.ok:
        size = f", {outcome.size:,} bytes" if outcome.size is not None else ""
        typer.echo(
            f"{outcome.action} of {outcome.job} ok in {outcome.duration_s:.1f}s: {outcome.artefact}{size}"
        )
    if not outcome.ok:
        stderr.print(f"{outcome.action} of {outcome.job} failed: {outcome.reason}", markup=False)
        raise typer.Exit(1)


async def _store(stack: Stack, path: Path | None, db: str | None) -> BackupRuns | None:
    """The record of backup runs in the stack file's store; None (and said) when there is none."""
    # Loaded in a thread, so that the work goes on meanwhile.
    await asyncio.to_thread(importlib.import_module, "vigil.store.backup_runs")
    await asyncio.to_thread(importlib.import_module, "vigil.store.database")
    from vigil.cli.store_session import open_existing, store_url
    from vigil.store.backup_runs import BackupRuns

    try:
        engine = await open_existing(store_url(stack, db), path, from_db=db is not None)
    except StoreMissing as err:
        stderr.print(f"not recorded: {err}", markup=False)
        return None
    return BackupRuns(engine)


async def _close(store: asyncio.Future[BackupRuns | None]) -> None:
    """Dispose of the store once it is open; a store that failed to open was said by ``record``."""
    try:
        runs = await store
    except VigilError:
        return
    if runs is not None:
        await runs.engine.dispose()


async def _no_record(outcome: Outcome) -> None:
    return None


def _artefact_job(stack: Stack, artefact: Path) -> Job:
    from vigil.backups.jobs import job_named, job_of_artefact
    from vigil.backups.manifest import read_manifest
    from vigil.backups.service import must_be_file
    from vigil.errors import BackupError, BackupRefused

    must_be_file(artefact)
    job = job_of_artefact(stack, artefact)
    if job is None:
        try:
            job = job_named(stack, read_manifest(artefact).job)
        except BackupError as err:
            raise BackupRefused(str(err)) from None
    return job


@backup_app.command("run")
def run(
    job: Annotated[str, typer.Argument(help="The job, as named under backups:.")],
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Back the job up now, verify it as the job says, and apply its retention."""
    from vigil.backups.jobs import job_named
    from vigil.backups.service import run_job

    _session(
        config,
        db,
        lambda stack, record: run_job(job_named(stack, job), stack.redactor, record=record),
        as_json,
    )


@backup_app.command("verify")
def verify(
    artefact: Artefact,
    how: Annotated[str | None, typer.Option(help="list or restore; default: the job's verify.")] = None,
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a backup against its manifest, then list or restore it; the verdict goes into its manifest."""
    from vigil.backups.service import verify_artefact
    from vigil.config.backups import VerifyHow

    if how is not None and how not in set(VerifyHow):
        stderr.print(f"--how: must be list or restore, not {how!r}", markup=False)
        raise typer.Exit(2)

    async def work(stack: Stack, record: Record) -> Outcome:
        job = _artefact_job(stack, artefact)
        return await verify_artefact(
            artefact, job, stack.redactor, how=VerifyHow(how) if how else None, record=record
        )

    _session(config, db, work, as_json)


@backup_app.command("restore")
def restore(
    artefact: Artefact,
    to: Annotated[
        str | None, typer.Option("--to", help="A new database (URL, or a path for sqlite).")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Over the job's source, after a safety backup.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm an --in-place restore without asking.")] = False,
    config: StackOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a new database, or over its job's source with --in-place."""
    from vigil.backups.service import restore_artefact

    if in_place and to is not None:
        stderr.print("give --to or --in-place, not both", markup=False)
        raise typer.Exit(2)
    if in_place and not yes:
        yes = typer.confirm(
            f"Restore {artefact} over its job's source, after a safety backup?", default=False
        )

    async def work(stack: Stack, record: Record) -> Outcome:
        job = _artefact_job(stack, artefact)
        return await restore_artefact(
            artefact, job, to, stack.redactor, in_place=in_place, confirmed=yes, record=record
        )

    _session(config, db, work, as_json)


@backup_app.command("list")
def list_(
    job: Annotated[str | None, typer.Argument(help="Only this job's backups.")] = None,
    config: StackOption = None,
    as_json: JsonOption = False,
) -> None:
    """The backups on disk, newest first: path, created_at, size, checksum, verified."""
    from vigil.backups.jobs import job_named, jobs_of
    from vigil.backups.service import listing
    from vigil.config.discovery import stack_file_or_fail
    from vigil.config.load import load_stack

    try:
        stack = load_stack(stack_file_or_fail(config))
        rows = listing([job_named(stack, job)] if job else list(jobs_of(stack).values()))
    except VigilError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "verified" if row["verified"] else "NOT verified"
        typer.echo(f"{row['created_at']}  {row['size']:>14,}  {mark:<12}  {row['path']}")
    if not rows:
        stderr.print("no backups yet", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
