"""The notification outbox: rows written with the change they announce, sent by a worker.

``enqueue`` runs inside the caller's transaction (an incident opening and its pages commit
together or not at all); the unique ``key`` makes a second enqueue of the same message a no-op.

Sending is at-least-once: ``due`` claims rows by pushing their ``next_attempt_at`` forward by a
lease, in one ``UPDATE … RETURNING``. On PostgreSQL the rows are picked ``FOR UPDATE SKIP
LOCKED``, so several Vigil instances never claim the same row at once; on SQLite the single
statement holds the database's write lock, which gives the same guarantee. A worker that dies
mid-send leaves its rows leased; they become due again when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.notify.base import Message, MessageEvent, OutboxStatus
from vigil.store.tables import OutboxRow

# Twice the worker's send timeout: a row in flight is never claimed twice, and a row whose
# sender died (kill -9) is sent again within half a minute.
LEASE_SECONDS = 30.0
PENDING = str(OutboxStatus.PENDING)
_COLUMNS = tuple(OutboxRow.__table__.columns)


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row as the worker and the API see it; times are UTC."""

    id: int
    key: str
    channel: str
    event: str
    payload: Mapping[str, Any]
    status: OutboxStatus
    attempts: int
    incident_id: int | None
    created_at: datetime
    next_attempt_at: datetime
    expires_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None

    @property
    def message(self) -> Message:
        return Message(self.key, self.channel, MessageEvent(self.event), self.payload)


async def enqueue(
    conn: AsyncConnection,
    messages: Sequence[Message],
    *,
    now: datetime,
    expire_after: dict[str, float],
    incident_id: int | None = None,
) -> int:
    """Add ``messages`` not already in the outbox; returns how many were added."""
    if not messages:
        return 0
    keys = [m.key for m in messages]
    known = set((await conn.execute(select(OutboxRow.key).where(OutboxRow.key.in_(keys)))).scalars())
    fresh = [m for m in messages if m.key not in known]
    if fresh:
        await conn.execute(
            insert(OutboxRow),
            [
                {
                    "key": m.key,
                    "channel": m.channel,
                    "incident_id": incident_id,
                    "event": str(m.event),
                    "payload": dict(m.payload),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "expires_at": now + timedelta(seconds=expire_after.get(m.channel, 86400.0)),
                }
                for m in fresh
            ],
        )
    return len(fresh)


async def due(
    engine: AsyncEngine,
    now: datetime,
    limit: int,
    *,
    lease: float = LEASE_SECONDS,
    channels: Collection[str] | None = None,
    skip_channels: Collection[str] = (),
) -> list[OutboxEntry]:
    """Claim up to ``limit`` pending rows that are due and not expired, oldest first.

    Each claimed row counts an attempt and is leased until ``now + lease``. Only rows of
    ``channels`` when given, and none of ``skip_channels``.
    """
    picked = (
        select(OutboxRow.id)
        .where(OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now, OutboxRow.expires_at > now)
        .order_by(OutboxRow.created_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if channels is not None:
        picked = picked.where(OutboxRow.channel.in_(list(channels)))
    if skip_channels:
        picked = picked.where(OutboxRow.channel.not_in(list(skip_channels)))
    # A CTE so that PostgreSQL locks the picked rows once, before the update (never re-evaluated).
    claim = picked.cte("picked")
    statement = (
        update(OutboxRow)
        .where(OutboxRow.id.in_(select(claim.c.id)))
        .values(next_attempt_at=now + timedelta(seconds=lease), attempts=OutboxRow.attempts + 1)
        .returning(*_COLUMNS)
    )
    async with engine.begin() as conn:
        rows = (await conn.execute(statement)).all()
    return sorted((_entry(row) for row in rows), key=lambda e: (e.created_at, e.id))


async def mark_delivered(engine: AsyncEngine, entry: OutboxEntry, now: datetime) -> bool:
    """Record a delivery; False if the row was no longer pending (expired meanwhile)."""
    return await _finish(entry, engine, status=str(OutboxStatus.DELIVERED), delivered_at=now, last_error=None)


async def mark_failed(
    engine: AsyncEngine, entry: OutboxEntry, error: str, next_attempt_at: datetime | None
) -> bool:
    """Record a failed attempt: retried at ``next_attempt_at``, or failed for good when None."""
    if next_attempt_at is None:
        return await _finish(entry, engine, status=str(OutboxStatus.FAILED), last_error=error)
    return await _finish(entry, engine, next_attempt_at=next_attempt_at, last_error=error)


async def expire(engine: AsyncEngine, now: datetime) -> list[OutboxEntry]:
    """Give up on pending rows past their ``expires_at``; returns them.

    Rows still leased (being sent right now) are left to their sender and expire afterwards.
    """
    statement = (
        update(OutboxRow)
        .where(OutboxRow.status == PENDING, OutboxRow.expires_at <= now, OutboxRow.next_attempt_at <= now)
        .values(status=str(OutboxStatus.EXPIRED))
        .returning(*_COLUMNS)
    )
    async with engine.begin() as conn:
        rows = (await conn.execute(statement)).all()
    return sorted((_entry(row) for row in rows), key=lambda e: (e.created_at, e.id))


async def depth(engine: AsyncEngine) -> int:
    """How many messages are waiting to be sent."""
    query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def next_due(engine: AsyncEngine, *, skip_channels: Collection[str] = ()) -> datetime | None:
    """When the earliest pending row is due (in the past when one is due now); None when none waits."""
    query = select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING)
    if skip_channels:
        query = query.where(OutboxRow.channel.not_in(list(skip_channels)))
    async with engine.connect() as conn:
        moment = (await conn.execute(query)).scalar_one_or_none()
    return _utc(moment) if moment is not None else None


async def for_incident(engine: AsyncEngine, incident_id: int) -> list[OutboxEntry]:
    """Every message sent or to be sent for an incident, in the order they were queued."""
    query = (
        select(*_COLUMNS)
        .where(OutboxRow.incident_id == incident_id)
        .order_by(OutboxRow.created_at, OutboxRow.id)
    )
    async with engine.connect() as conn:
        return [_entry(row) for row in (await conn.execute(query)).all()]


async def get(engine: AsyncEngine, key: str) -> OutboxEntry | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_COLUMNS).where(OutboxRow.key == key))).first()
    return _entry(row) if row is not None else None


async def _finish(entry: OutboxEntry, engine: AsyncEngine, **values: Any) -> bool:
    # Only a pending row changes: a row that expired or was finished by another worker stays as it is.
    statement = (
        update(OutboxRow).where(OutboxRow.id == entry.id, OutboxRow.status == PENDING).values(**values)
    )
    async with engine.begin() as conn:
        return (await conn.execute(statement)).rowcount == 1


def _entry(row: Row[Any]) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        key=row.key,
        channel=row.channel,
        event=row.event,
        payload=dict(row.payload),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        incident_id=row.incident_id,
        created_at=_utc(row.created_at),
        next_attempt_at=_utc(row.next_attempt_at),
        expires_at=_utc(row.expires_at),
        delivered_at=_utc(row.delivered_at) if row.delivered_at is not None else None,
        last_error=row.last_error,
    )


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Vigil stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
