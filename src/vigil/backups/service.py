"""Backups as the CLI, the API and ``vigil up`` ask for them: run a job, verify an artefact,
list them, restore one. Each returns an ``Outcome`` (a failure is an outcome with its reason,
never a traceback); asking wrongly raises ``BackupRefused``.

A dump goes to ``.<name>.partial`` in the destination and is renamed into place only when the
engine finished and its checksum is taken; whatever fails before leaves no artefact. A backup
is good only once verified: the verification re-reads the checksum, then lists or restores.
When a restore verifies the backup right after it, an engine that can (``RestoresWhileDumping``)
restores the dump's bytes into its scratch database as they are written and hashed, so the dump
and the verifying restore run at once and the artefact is read no second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.backups.base import RestoresWhileDumping, count_mismatches
from vigil.backups.jobs import Action, Job, Outcome
from vigil.backups.manifest import Manifest, Verified, artefacts, manifest_path, read_manifest, sha256_of
from vigil.backups.manifest import write_manifest as _write
from vigil.config.backups import VerifyHow
from vigil.config.durations import format_duration
from vigil.errors import BackupError, BackupRefused

Record = Callable[[Outcome], Awaitable[None]]
Redact = Callable[[str], str]


async def _nothing(outcome: Outcome) -> None:
    return None


def _stamp(at: datetime) -> str:
    # To the millisecond: two backups in one second (an in-place restore's safety backup right
    # after a run) must not share a name, or the second would replace the first.
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


async def run_job(
    job: Job, redact: Redact, *, record: Record = _nothing, verify: bool = True, now: datetime | None = None
) -> Outcome:
    """Back ``job`` up; then, unless its verification has a schedule of its own, verify it and
    apply retention. The outcome is the backup's, failed when its verification failed."""
    started = now or datetime.now(UTC)
    clock = time.monotonic()
    final = job.destination / f"{job.name}-{_stamp(started)}.{job.suffix}"
    partial = final.with_name(f".{final.name}.partial")
    try:
        try:
            job.destination.mkdir(parents=True, exist_ok=True)
            partial.touch()
        except OSError as err:
            raise BackupError(f"cannot write to the destination {job.destination}: {err.strerror}") from None
        engine, found = job.engine(), None
        if verify and isinstance(engine, RestoresWhileDumping) and _verified_at_once(job):
            work = engine.dump_and_restore(job.source, partial)
            dump, found = await asyncio.wait_for(work, job.config.timeout)
        else:
            dump = await asyncio.wait_for(engine.dump(job.source, partial), job.config.timeout)
        checksum = dump.checksum if dump.checksum else await asyncio.to_thread(sha256_of, partial)
        size = partial.stat().st_size
        duration = time.monotonic() - clock
        manifest = Manifest(
            job.name,
            job.config.engine,
            started,
            checksum,
            size,
            round(duration, 3),
            dump.source_version,
            dump.client_version,
            dump.tables,
        )
        os.replace(partial, final)
        _write(final, manifest)
    except (BackupError, OSError, TimeoutError) as err:
        for leftover in (partial, final):  # final: renamed, but its manifest could not be written
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        reason = _full(err, job.destination) or _reason(err, job.config.timeout)
        outcome = Outcome(
            job.name, Action.BACKUP, False, started, time.monotonic() - clock, reason=redact(reason)
        )
        await record(outcome)
        return outcome
    outcome = Outcome(job.name, Action.BACKUP, True, started, duration, final, size)
    checked = None
    if found is not None:
        checked = await _restored_while_dumping(final, job, manifest, found, redact, record, clock)
    elif verify and job.config.verify.schedule is None:
        checked = await verify_artefact(final, job, redact, record=record)
    if checked is not None and not checked.ok:
        outcome = Outcome(job.name, Action.BACKUP, False, started, duration, final, size, checked.reason)
    await record(outcome)
    if outcome.ok:
        prune(job, started)
    return outcome


# How the dump tools and SQLite word a full device (ENOSPC) they met while writing.
_FULL = ("No space left on device", "database or disk is full")


def _full(err: BaseException, destination: Path) -> str | None:
    """The reason of a backup that failed because the destination's device is full, or None."""
    if not (isinstance(err, OSError) and err.errno == errno.ENOSPC) and not any(s in str(err) for s in _FULL):
        return None
    try:
        free = f"{shutil.disk_usage(destination).free // 1024:,} KiB free"
    except OSError:
        free = "its free space unknown"
    return (
        f"no space left on the device of the destination {destination} ({free} once the partial "
        "backup was removed); nothing was kept"
    )


def _verified_at_once(job: Job) -> bool:
    """A restore verifies this backup right after it: the engine may restore while it dumps.
    Not with an ``rto``, which is the time a restore takes on its own."""
    config = job.config
    return config.verify.how is VerifyHow.RESTORE and config.verify.schedule is None and config.rto is None


async def _restored_while_dumping(
    artefact: Path,
    job: Job,
    manifest: Manifest,
    found: dict[str, int] | BackupError,
    redact: Redact,
    record: Record,
    clock: float,
) -> Outcome:
    """The verdict on a backup restored into a scratch database from the dump's own bytes as
    they were written and hashed: the rows found there against the manifest's. The artefact
    needs no second reading; its verification began with the dump."""
    reason = str(found) if isinstance(found, BackupError) else count_mismatches(manifest.tables, found)
    verdict = None if reason is None else redact(reason)
    return await _concluded(
        artefact,
        job,
        manifest,
        VerifyHow.RESTORE,
        manifest.created_at,
        time.monotonic() - clock,
        verdict,
        record,
    )


async def _concluded(
    artefact: Path,
    job: Job,
    manifest: Manifest | None,
    how: VerifyHow,
    started: datetime,
    duration: float,
    reason: str | None,
    record: Record,
) -> Outcome:
    """A verification's verdict written into the manifest and recorded."""
    if manifest is not None:
        verified = Verified(reason is None, started, str(how), round(duration, 3), reason)
        with contextlib.suppress(OSError):
            _write(artefact, manifest.with_verification(verified))
    size = manifest.size if manifest else None
    outcome = Outcome(job.name, Action.VERIFY, reason is None, started, duration, artefact, size, reason)
    await record(outcome)
    return outcome


def _reason(err: BaseException, timeout: float) -> str:
    if isinstance(err, TimeoutError):
        return f"the backup took longer than its timeout of {format_duration(timeout)}"
    if isinstance(err, OSError):
        return f"cannot write the backup: {err.strerror or err}"
    return str(err)


async def verify_artefact(
    artefact: Path, job: Job, redact: Redact, *, how: VerifyHow | None = None, record: Record = _nothing
) -> Outcome:
    """Check ``artefact`` against its manifest, then list or restore it (``how``, default the
    job's); the verdict is written into the manifest."""
    must_be_file(artefact)
    how = how or job.config.verify.how
    started, clock = datetime.now(UTC), time.monotonic()
    manifest: Manifest | None = None
    try:
        manifest = read_manifest(artefact)
        checksum = await asyncio.to_thread(sha256_of, artefact)
        if checksum != manifest.checksum:
            raise BackupError(
                f"checksum mismatch: the artefact changed since it was written "
                f"(sha256 {checksum[:12]}…, its manifest says {manifest.checksum[:12]}…)"
            )
        engine = job.engine()
        if how is VerifyHow.LIST:
            await asyncio.wait_for(engine.check(artefact), job.config.timeout)
        else:
            found = await asyncio.wait_for(engine.scratch_counts(artefact, job.source), job.config.timeout)
            if (wrong := count_mismatches(manifest.tables, found)) is not None:
                raise BackupError(wrong)
            took = time.monotonic() - clock
            if job.config.rto is not None and took > job.config.rto:
                raise BackupError(
                    f"the restore took {format_duration(round(took))}, longer than the rto of "
                    f"{format_duration(job.config.rto)}"
                )
        reason = None
    except (BackupError, OSError, TimeoutError) as err:
        reason = redact(_reason(err, job.config.timeout))
    return await _concluded(artefact, job, manifest, how, started, time.monotonic() - clock, reason, record)


async def restore_artefact(
    artefact: Path,
    job: Job,
    target: str | None,
    redact: Redact,
    *,
    in_place: bool = False,
    confirmed: bool = False,
    record: Record = _nothing,
) -> Outcome:
    """Restore ``artefact`` into the new database ``target``, or over the job's source
    (``in_place``: confirmed, and after a safety backup of what is there now)."""
    must_be_file(artefact)
    if in_place and not confirmed:
        raise BackupRefused(f"--in-place restores over the source of {job.name}; confirm it with --yes")
    if not in_place and not target:
        raise BackupRefused("name the new database to restore into with --to, or restore --in-place")
    started, clock = datetime.now(UTC), time.monotonic()
    try:
        manifest = read_manifest(artefact)
        if await asyncio.to_thread(sha256_of, artefact) != manifest.checksum:
            raise BackupError("checksum mismatch: the artefact changed since it was written; not restored")
        if in_place:
            safety = await run_job(job, redact, record=record, verify=False)
            if not safety.ok:
                raise BackupError(f"the safety backup before restoring in place failed: {safety.reason}")
        found = await job.engine().restore(
            artefact, job.source if in_place else str(target), in_place=in_place
        )
        if (wrong := count_mismatches(manifest.tables, found)) is not None:
            raise BackupError(wrong)
        reason = None
    except BackupRefused:
        raise
    except (BackupError, OSError) as err:
        reason = redact(_reason(err, job.config.timeout))
    outcome = Outcome(
        job.name, Action.RESTORE, reason is None, started, time.monotonic() - clock, artefact, None, reason
    )
    await record(outcome)
    return outcome


def must_be_file(artefact: Path) -> None:
    if not artefact.is_file():
        raise BackupRefused(f"{artefact} is not a file")


def prune(job: Job, now: datetime) -> list[Path]:
    """Delete what is past ``keep`` (beyond its count or older than its age), never the newest
    verified backup; the deleted artefacts."""
    keep = job.config.keep
    listed = artefacts(job.destination)
    newest_good = next((path for path, m in listed if m.good), None)
    gone: list[Path] = []
    for index, (path, manifest) in enumerate(listed):
        past_count = keep.count is not None and index >= keep.count
        past_age = keep.age is not None and now - manifest.created_at > timedelta(seconds=keep.age)
        if (past_count or past_age) and path != newest_good:
            for file in (path, manifest_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    file.unlink()
            gone.append(path)
    return gone


def listing(jobs: list[Job]) -> list[dict[str, object]]:
    """The artefacts of ``jobs``, newest first within each job, as ``vigil backup list`` shows them."""
    rows: list[dict[str, object]] = []
    for job in jobs:
        for path, manifest in artefacts(job.destination):
            verified = manifest.verified
            rows.append(
                {
                    "job": job.name,
                    "path": str(path),
                    "created_at": manifest.created_at.isoformat(),
                    "size": manifest.size,
                    "checksum": manifest.checksum,
                    "verified": manifest.good,
                    "verified_at": verified.at.isoformat() if verified else None,
                    "verified_how": verified.how if verified else None,
                    "reason": verified.reason if verified else None,
                    "tables": len(manifest.tables),
                }
            )
    return rows
