"""``backup``: a backup job's recovery point, as a check.

Each job under ``backups:`` is the check ``backups.<job>`` (``StackFile.checks``); a
``backup:`` key under a service's checks is refused (the job would have no schedule there). ``vigil up`` runs the job
on its schedule and judges it after each step and every ``every`` (``engine.backups``), so the
scheduler leaves it alone (``KIND.pushed``); ``vigil check`` judges it from the manifests on disk.
A failed or stale backup is a failing check and pages like one (``alert.after`` defaults to 1).

A job with ``engine: heartbeat`` is a backup made elsewhere: its check is a heartbeat check
(``ReportedBackupCheck``) that takes pings like any other, judged by the job's ``rpo``: the
recovery point is the last success ping, and the check fails when it is older than ``rpo``,
from a ``fail`` ping until the next success, and when a backup that pinged ``start`` has not
succeeded within the job's ``timeout``. Never pinged, it fails once ``rpo`` has passed since
Vigil began to watch it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from vigil.backups.manifest import artefacts
from vigil.backups.recovery import judge
from vigil.config.backups import BackupJob, ReportedBackup
from vigil.config.check import CheckBase
from vigil.config.durations import format_duration
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.heartbeat import Beat, HeartbeatCheck, HeartbeatTimes, ago, moment


class BackupCheck(CheckBase):
    kind: ClassVar[str] = "backup"

    backup: BackupJob = Field(description="The backup job: {engine, source, schedule, destination, keep, …}.")

    @property
    def target(self) -> str:
        # Never the source: it usually holds a password.
        return f"{self.backup.engine} backup to {self.backup.destination}"


class BackupProbe:
    """Judges the recovery point from the manifests in the job's destination (made absolute by
    ``Stack.specs``)."""

    async def observe(self, check: BackupCheck) -> Observation:
        listed = await asyncio.to_thread(artefacts, Path(check.backup.destination))
        return judge(listed, None, check.backup.rpo, datetime.now(UTC))

    async def close(self) -> None:
        return None


KIND = ProbeKind("backup", BackupCheck, BackupProbe, pushed=True)


def backup_check(job: BackupJob, folder: Path | None = None) -> BackupCheck:
    """The check of a job under ``backups:``: judged every minute, alerting as the job says;
    a relative destination is read from ``folder`` (the stack file's), not the current one."""
    if folder is not None:
        job = job.model_copy(update={"destination": str((folder / job.destination).resolve())})
    return BackupCheck.model_construct(backup=job, alert=job.alert, every=60.0, timeout=job.timeout)


class ReportedBackupCheck(HeartbeatCheck):
    """The check of a job under ``backups:`` with ``engine: heartbeat``: a heartbeat judged by rpo."""

    reported: ReportedBackup = Field(description="The job: {engine: heartbeat, rpo, key, timeout}.")

    @property
    def target(self) -> str:
        # Never the key: it is the URL's only secret.
        return f"a backup made elsewhere, reported by ping; rpo {format_duration(self.reported.rpo)}"

    def deadline(self, beat: Beat) -> datetime:
        due = (beat.last_success or beat.since) + timedelta(seconds=self.reported.rpo)
        if beat.run_started is not None:
            due = min(due, beat.run_started + timedelta(seconds=self.reported.timeout))
        return due

    def verdict(self, beat: Beat, now: datetime) -> Observation:
        values = beat.values(now, since="recovery_point_seconds", run="duration_seconds")
        job = self.reported
        rpo = f"rpo {format_duration(job.rpo)}"
        if (failure := beat.failure_said("the last backup")) is not None:
            return Observation.failed(failure, **values)
        if beat.run_started is not None and now >= beat.run_started + timedelta(seconds=job.timeout):
            return Observation.failed(
                f"a backup started at {moment(beat.run_started)} reported no success within its timeout "
                f"of {format_duration(job.timeout)}",
                **values,
            )
        if beat.last_success is None and now - beat.since >= timedelta(seconds=job.rpo):
            return Observation.failed(
                f"no backup reported in the {ago(now - beat.since)} since {moment(beat.since)}; {rpo}",
                **values,
            )
        if beat.last_success is None or now - beat.last_success < timedelta(seconds=job.rpo):
            return Observation.passed(**values)
        return Observation.failed(
            f"the newest backup reported is {ago(now - beat.last_success)} old "
            f"(at {moment(beat.last_success)}); {rpo}",
            **values,
        )


def reported_check(job: ReportedBackup) -> ReportedBackupCheck:
    """The check of a backup made elsewhere: pings expected at least every ``rpo``, judged every minute."""
    times = HeartbeatTimes.model_construct(every=job.rpo, grace=0.0, key=job.key)
    return ReportedBackupCheck.model_construct(
        heartbeat=times, reported=job, alert=job.alert, every=60.0, timeout=10.0
    )
