"""The record of backup runs: every backup, verification and restore of a job, as it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.backups.jobs import Action, Outcome
from vigil.store.tables import BackupRunRow

MAX_LISTED = 500
MAX_BACKUPS = 50_000  # a graph's window of backups: 30 days of one every minute fits
REASON_LIMIT = 2000


class BackupRuns:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, outcome: Outcome) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(BackupRunRow).values(
                    job=outcome.job,
                    action=str(outcome.action),
                    ok=outcome.ok,
                    started_at=outcome.started_at,
                    duration_s=outcome.duration_s,
                    artefact=str(outcome.artefact) if outcome.artefact else None,
                    size=outcome.size,
                    reason=outcome.reason[:REASON_LIMIT] if outcome.reason else None,
                )
            )

    async def ran(self, job: str) -> bool:
        """Whether ``job`` has any run on record: a job that has never run is new."""
        query = select(BackupRunRow.id).where(BackupRunRow.job == job).limit(1)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def recent(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs (of ``job``), newest first; at most ``MAX_LISTED``."""
        query = select(BackupRunRow).order_by(BackupRunRow.started_at.desc(), BackupRunRow.id.desc())
        if job is not None:
            query = query.where(BackupRunRow.job == job)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(min(limit, MAX_LISTED)))).all()
        return [
            {
                "job": row.job,
                "action": row.action,
                "ok": row.ok,
                "started_at": row.started_at.isoformat(),
                "duration_s": row.duration_s,
                "artefact": row.artefact,
                "size": row.size,
                "reason": row.reason,
            }
            for row in rows
        ]

    async def backups(self, job: str, since: datetime) -> list[tuple[datetime, float, int]]:
        """When each good backup of ``job`` since ``since`` started, how long it took (seconds)
        and how large it is (bytes), oldest first; the newest ``MAX_BACKUPS``."""
        query = (
            select(BackupRunRow.started_at, BackupRunRow.duration_s, BackupRunRow.size)
            .where(
                BackupRunRow.job == job,
                BackupRunRow.action == str(Action.BACKUP),
                BackupRunRow.ok.is_(True),
                BackupRunRow.size.is_not(None),
                BackupRunRow.started_at >= since,
            )
            .order_by(BackupRunRow.started_at.desc())
            .limit(MAX_BACKUPS)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(row.started_at, row.duration_s, int(row.size)) for row in reversed(rows)]
