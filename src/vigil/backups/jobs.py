"""A stack file's backup jobs with their folders resolved, and what one step of a job produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.backups.base import BackupEngine
from vigil.backups.registry import engine_kind
from vigil.config.backups import BackupJob
from vigil.errors import BackupRefused

if TYPE_CHECKING:
    from vigil.config.load import Stack


class Action(StrEnum):
    BACKUP = "backup"
    VERIFY = "verify"
    RESTORE = "restore"


@dataclass(frozen=True)
class Job:
    name: str
    config: BackupJob
    destination: Path  # absolute: the stack file's folder is where a relative one starts
    source: str  # a file source (sqlite) made absolute the same way

    @property
    def check_id(self) -> str:
        return f"backups.{self.name}"

    def engine(self) -> BackupEngine:
        return engine_kind(self.config.engine).factory()

    @property
    def suffix(self) -> str:
        return engine_kind(self.config.engine).suffix


@dataclass(frozen=True)
class Outcome:
    """One backup, verification or restore: ok or a one-line reason (secrets already masked)."""

    job: str
    action: Action
    ok: bool
    started_at: datetime
    duration_s: float
    artefact: Path | None = None
    size: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "action": str(self.action),
            "ok": self.ok,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "artefact": str(self.artefact) if self.artefact else None,
            "size": self.size,
            "reason": self.reason,
        }


def jobs_of(stack: Stack) -> dict[str, Job]:
    """The jobs Vigil takes itself; those made elsewhere (``engine: heartbeat``) only report."""
    base = stack.folder
    return {
        name: Job(name, config, (base / config.destination).resolve(), _source(config, base))
        for name, config in stack.model.backups.items()
        if isinstance(config, BackupJob)
    }


def _source(config: BackupJob, base: Path) -> str:
    if not engine_kind(config.engine).file_source or config.source.startswith("sqlite:///"):
        return config.source
    return str((base / config.source).resolve())


def job_named(stack: Stack, name: str) -> Job:
    jobs = jobs_of(stack)
    if name in stack.model.backups and name not in jobs:
        raise BackupRefused(
            f"backup job {name!r} is made elsewhere and reports by ping (engine: heartbeat); "
            "Vigil cannot run, verify or restore it"
        )
    if name not in jobs:
        known = ", ".join(jobs) or "none"
        raise BackupRefused(f"no backup job {name!r} in {stack.file or 'the stack file'}; its jobs: {known}")
    return jobs[name]


def job_of_artefact(stack: Stack, artefact: Path) -> Job | None:
    """The job whose destination holds ``artefact``, if any (none for a path that cannot be one:
    a NUL byte, a loop of links)."""
    try:
        folder = artefact.resolve().parent
    except (OSError, RuntimeError, ValueError):
        return None
    return next((job for job in jobs_of(stack).values() if job.destination == folder), None)
