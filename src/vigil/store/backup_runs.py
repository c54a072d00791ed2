"""The record of backup runs: every backup, verification and restore of a job, as it ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.backups.jobs import Outcome
from vigil.store.tables import BackupRunRow

MAX_LISTED = 500
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
