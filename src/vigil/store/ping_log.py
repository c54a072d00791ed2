"""A heartbeat check's recent pings as people read them: when, what it said, the exit status,
how long the run took (from its ``start`` to its success) and the start of what the job posted
(its log, redacted when it arrived, at most ``ping_routes.BODY_KEPT``). The API's
``/checks/{id}/pings`` and the check's dashboard page show the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.probes.heartbeat import Signal
from vigil.store.pings import KEEP
from vigil.store.tables import PingRow

MOST = KEEP  # the store keeps no more per check


@dataclass(frozen=True)
class PingEntry:
    at: datetime
    kind: Signal
    exit_status: int | None
    duration_seconds: float | None  # on a success that ended a started run
    excerpt: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": str(self.kind),
            "exit_status": self.exit_status,
            "duration_seconds": self.duration_seconds,
            "excerpt": self.excerpt,
        }


async def recent_pings(engine: AsyncEngine, check_id: str, limit: int = 20) -> list[PingEntry]:
    """The newest ``limit`` pings of ``check_id`` (at most ``MOST``), newest first. Durations are
    worked out over every ping the store keeps, so a run started before the newest ``limit``
    still has one."""
    query = select(PingRow).where(PingRow.check_id == check_id).order_by(PingRow.id.desc()).limit(MOST)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    entries: list[PingEntry] = []
    started: datetime | None = None
    for row in reversed(rows):
        kind = Signal(row.signal)
        took = None
        if kind is Signal.SUCCESS and started is not None:
            took = round((row.at - started).total_seconds(), 3)
        if kind is Signal.START:
            started = row.at
        elif kind is not Signal.LOG:
            started = None
        entries.append(PingEntry(row.at, kind, row.exit_status, took, row.body))
    return entries[::-1][: max(0, min(limit, MOST))]
