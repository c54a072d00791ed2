"""The timeline lines of deliveries ("triggered sent to ops-hook"), written in batches.

A storm's pages finish close together, and a commit for each of their lines made the timeline
the slowest part of draining a burst; lines that arrive within a few milliseconds share one
transaction (``store.write_batch``), and each caller still returns only once its line is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.incidents.model import EventKind
from vigil.store.tables import IncidentEventRow
from vigil.store.write_batch import WriteBatch

# Builds a timeline row as every writer of the timeline does (IncidentService.event_row).
EventRow = Callable[[int, EventKind, str, datetime], dict[str, Any]]


class DeliveryLines:
    def __init__(self, engine: AsyncEngine, event_row: EventRow, now: Callable[[], datetime]) -> None:
        self.event_row = event_row
        self.now = now
        self.batch: WriteBatch[dict[str, Any], None] = WriteBatch(engine, _insert, name="delivery lines")

    async def record(self, incident_id: int | None, channel: str, event: str, error: str | None) -> None:
        """A timeline line for a page sent or given up on; nothing for a page of no incident."""
        if incident_id is None:
            return
        kind = EventKind.NOTIFIED if error is None else EventKind.NOTIFY_FAILED
        text = f"{event} sent to {channel}" if error is None else f"{event} to {channel} failed: {error}"
        await self.batch.submit(self.event_row(incident_id, kind, text, self.now()))

    async def close(self) -> bool:
        """Write the lines still waiting; False when some could not be."""
        return await self.batch.close()


async def _insert(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[None]:
    await conn.execute(insert(IncidentEventRow), list(rows))
    return [None] * len(rows)
