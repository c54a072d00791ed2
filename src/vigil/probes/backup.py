"""``backup``: a backup job's recovery point, as a check.

Each job under ``backups:`` is the check ``backups.<job>`` (``StackFile.checks``); a
``backup:`` key under a service's checks is refused (the job would have no schedule there). ``vigil up`` runs the job
on its schedule and judges it after each step and every ``every`` (``engine.backups``), so the
scheduler leaves it alone (``KIND.pushed``); ``vigil check`` judges it from the manifests on disk.
A failed or stale backup is a failing check and pages like one (``alert.after`` defaults to 1).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from vigil.backups.manifest import artefacts
from vigil.backups.recovery import judge
from vigil.config.backups import BackupJob
from vigil.config.check import CheckBase
from vigil.probes.base import Observation, ProbeKind


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
