"""The record of runbook runs: a row written when a run starts (so a run cut short by a crash
still shows who started what), finished with every step's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.errors import NotFoundError
from vigil.store.tables import RunbookRunRow

MAX_LISTED = 500


@dataclass(frozen=True)
class RunRecord:
    id: int
    procedure: str
    title: str
    actor: str
    incident_id: int | None
    exit_code: int | None  # None while it runs (or when it never finished)
    steps: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "procedure": self.procedure,
            "title": self.title,
            "actor": self.actor,
            "incident_id": self.incident_id,
            "exit_code": self.exit_code,
            "steps": self.steps,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class RunbookRuns:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start(
        self, procedure: str, title: str, actor: str, incident_id: int | None, at: datetime
    ) -> int:
        async with self.engine.begin() as conn:
            row = await conn.execute(
                insert(RunbookRunRow)
                .values(
                    procedure=procedure,
                    title=title,
                    actor=actor,
                    incident_id=incident_id,
                    steps=[],
                    started_at=at,
                )
                .returning(RunbookRunRow.id)
            )
            return int(row.scalar_one())

    async def finish(self, run_id: int, steps: list[dict[str, Any]], exit_code: int, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(RunbookRunRow)
                .where(RunbookRunRow.id == run_id)
                .values(steps=steps, exit_code=exit_code, finished_at=at)
            )

    async def get(self, run_id: int) -> RunRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(RunbookRunRow).where(RunbookRunRow.id == run_id))).first()
        if row is None:
            raise NotFoundError(f"runbook run {run_id} does not exist")
        return _record(row)

    async def recent(self, *, incident_id: int | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first; only the runs on ``incident_id`` when it is given."""
        query = select(RunbookRunRow).order_by(RunbookRunRow.id.desc()).limit(min(limit, MAX_LISTED))
        if incident_id is not None:
            query = query.where(RunbookRunRow.incident_id == incident_id)
        async with self.engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]


def _record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        procedure=row.procedure,
        title=row.title,
        actor=row.actor,
        incident_id=row.incident_id,
        exit_code=row.exit_code,
        steps=list(row.steps or []),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
