"""A backup job as the dashboard shows it: its last backup and verification (from the store's
record of runs), its artefacts on disk and its recovery point, the age of the newest verified
backup against ``rpo``. Built from what the caller read; nothing here touches disk or store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from vigil.backups.jobs import Action, Job
from vigil.backups.manifest import Manifest


class Artefact(NamedTuple):
    """A backup file and its manifest beside it."""

    path: Path
    manifest: Manifest


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last_backup: dict[str, Any] | None  # a run as ``BackupRuns.recent`` reads it
    last_verify: dict[str, Any] | None
    artefacts: list[Artefact]  # newest first
    verified: Artefact | None  # the newest verified backup
    recovery_point_s: float | None  # its age

    @property
    def stale(self) -> bool:
        """No verified backup, or the newest is older than the job's ``rpo``."""
        if self.recovery_point_s is None:
            return True
        rpo = self.job.config.rpo
        return rpo is not None and self.recovery_point_s > rpo

    @property
    def total_size(self) -> int:
        return sum(a.manifest.size for a in self.artefacts)


def status_of(
    job: Job, listed: list[tuple[Path, Manifest]], runs: list[dict[str, Any]], now: datetime
) -> JobStatus:
    """``job`` from its artefacts (``manifest.artefacts``) and its runs, newest first."""
    artefacts = [Artefact(path, manifest) for path, manifest in listed]
    verified = next((a for a in artefacts if a.manifest.good), None)
    age = (now - verified.manifest.created_at).total_seconds() if verified else None
    return JobStatus(
        job,
        _newest(runs, Action.BACKUP),
        _newest(runs, Action.VERIFY),
        artefacts,
        verified,
        round(age, 3) if age is not None else None,
    )


def _newest(runs: list[dict[str, Any]], action: Action) -> dict[str, Any] | None:
    return next((run for run in runs if run["action"] == str(action)), None)
