"""What may leave the outbox at all: pages held while quiet, and follow-ups without a trigger.

A trigger claimed while quiet (a silence, a maintenance window) holds is set aside as HELD, its
attempt not counted; it goes back to pending when the quiet ends with its incident still open,
and is dropped when its incident is resolved first. An acknowledgement or resolve goes only to
a channel that got the trigger: otherwise, once nothing earlier of its incident and channel
waits, it is dropped, so a receiver never hears of an incident it was not told of.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from vigil.notify.base import OutboxStatus
from vigil.store import outbox_results
from vigil.store.outbox import (
    COLUMNS,
    HELD,
    PENDING,
    TRIGGERED,
    OutboxEntry,
    entry,
    finish,
    first_in_line,
    of_stack,
    trigger_delivered,
    unleased,
)
from vigil.store.tables import IncidentRow, OutboxRow

DROPPED = str(OutboxStatus.DROPPED)
NO_TRIGGER = "the trigger was never sent to this channel"
RESOLVED_WHILE_HELD = "the incident was resolved while its page was held"


async def hold(engine: AsyncEngine, claimed: OutboxEntry, reason: str) -> bool:
    """Set a claimed row aside while quiet holds; False when the claim is no longer ours."""
    return await finish(engine, claimed, **outbox_results.held(claimed, reason).values)


async def held(engine: AsyncEngine, limit: int = 500, *, stack: str | None = None) -> list[OutboxEntry]:
    """Held rows (of ``stack``: ``outbox.of_stack``; its quiet judges them), oldest first."""
    query = (
        select(*COLUMNS).where(OutboxRow.status == HELD, of_stack(stack)).order_by(OutboxRow.id).limit(limit)
    )
    async with engine.connect() as conn:
        return [entry(row) for row in (await conn.execute(query)).all()]


async def release(engine: AsyncEngine, was_held: OutboxEntry, now: datetime) -> OutboxEntry | None:
    """Make a held row pending and due now; None when it is no longer held (another instance
    released or dropped it)."""
    # The expiry counts from the release: a page held through a long silence is still worth
    # sending when the incident is still open afterwards.
    expires_at = now + (was_held.expires_at - was_held.created_at)
    statement = (
        update(OutboxRow)
        .where(OutboxRow.id == was_held.id, OutboxRow.status == HELD)
        .values(status=PENDING, next_attempt_at=now, expires_at=expires_at, last_error=None)
        .returning(*COLUMNS)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).first()
    return entry(row) if row is not None else None


async def drop_resolved(engine: AsyncEngine) -> list[OutboxEntry]:
    """Drop held rows whose incident was resolved meanwhile; returns them."""
    resolved = exists().where(IncidentRow.id == OutboxRow.incident_id, IncidentRow.status == "resolved")
    return await _drop(engine, and_(OutboxRow.status == HELD, resolved), RESOLVED_WHILE_HELD)


async def drop_follow_ups_without_trigger(engine: AsyncEngine) -> list[OutboxEntry]:
    """Drop acknowledgements and resolves whose trigger never reached their channel and never
    will (nothing earlier of their incident and channel waits); returns them."""
    condition = and_(
        OutboxRow.status == PENDING,
        OutboxRow.event != TRIGGERED,
        OutboxRow.incident_id.is_not(None),
        unleased(engine.dialect.name),
        first_in_line(),
        ~trigger_delivered(),
    )
    return await _drop(engine, condition, NO_TRIGGER)


async def _drop(engine: AsyncEngine, condition: ColumnElement[bool], why: str) -> list[OutboxEntry]:
    statement = (
        update(OutboxRow)
        .where(condition)
        .values(status=DROPPED, last_error=why, leased_until=None, lease_token=None)
        .returning(*COLUMNS)
    )
    async with engine.begin() as conn:
        rows = (await conn.execute(statement)).all()
    return sorted((entry(row) for row in rows), key=lambda e: e.id)
