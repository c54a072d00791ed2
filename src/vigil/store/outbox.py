"""The notification outbox: rows written with the change they announce, sent by a worker.

``enqueue`` runs inside the caller's transaction (an incident opening and its pages commit
together or not at all); the unique ``key`` makes a second enqueue of the same message a no-op.

Sending is at-least-once. ``due`` claims rows with a lease in one ``UPDATE … RETURNING``: the
lease runs until ``leased_until``, in the *database's* time, so that instances whose clocks
differ, or a clock that steps, agree on when it ends; each claim gets a fresh ``lease_token``,
and an outcome is recorded only by the holder of the current token. On PostgreSQL the rows are
picked ``FOR UPDATE SKIP LOCKED``, so several Vigil instances never claim the same row at once;
on SQLite the single statement holds the database's write lock, which gives the same guarantee.
A worker that dies mid-send leaves its rows leased; they become due again when the lease ends.

Messages of one incident to one channel leave in the order they were queued: a row is not
claimable while an earlier one of the same incident and channel is pending or held, and an
acknowledgement or resolve goes only to a channel that got the trigger (``outbox_gate``).
``next_attempt_at`` is the backoff, in the application's clock. What became of a claimed row is
recorded by ``outbox_results``.

Several stack files may share one store: a row records the stack file that queued it
(``stack``), and a worker given its stack claims, expires and counts only that stack's rows and
those of none (queued from the shell, or before migration 0013), so a page leaves through the
channels of the stack file that queued it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Row, and_, cast, exists, extract, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from vigil.notify.base import Message, MessageEvent, OutboxStatus
from vigil.store.tables import OutboxRow

# Twice the worker's send timeout: a row in flight is never claimed twice, and a row whose
# sender died (kill -9) is sent again within half a minute.
LEASE_SECONDS = 30.0
PENDING = str(OutboxStatus.PENDING)
HELD = str(OutboxStatus.HELD)
TRIGGERED = str(MessageEvent.TRIGGERED)
COLUMNS = tuple(OutboxRow.__table__.columns)


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row as the worker and the API see it; times are UTC.

    ``lease_token`` is set on an entry ``due`` handed out: the claim its outcome must match.
    """

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
    leased_until: float | None = None
    lease_token: str | None = None
    stack: str | None = None  # the stack file that queued it; None from the shell or before 0013

    @property
    def message(self) -> Message:
        return Message(self.key, self.channel, MessageEvent(self.event), self.payload)


def db_now(dialect: str) -> ColumnElement[float]:
    """The database's current time in Unix seconds, read at each use (not the transaction's start)."""
    if dialect == "postgresql":
        return cast(extract("epoch", func.clock_timestamp()), Float)
    return (func.julianday("now") - 2440587.5) * 86400.0


def unleased(dialect: str) -> ColumnElement[bool]:
    """No live lease on the row: never claimed, released, or its holder's lease ran out."""
    return or_(OutboxRow.leased_until.is_(None), OutboxRow.leased_until <= db_now(dialect))


def first_in_line() -> ColumnElement[bool]:
    """Nothing earlier of the row's incident and channel still waits (rows of no incident: always)."""
    earlier = aliased(OutboxRow)
    return ~exists().where(
        earlier.incident_id == OutboxRow.incident_id,
        earlier.channel == OutboxRow.channel,
        earlier.id < OutboxRow.id,
        earlier.status.in_([PENDING, HELD]),
    )


def trigger_delivered() -> ColumnElement[bool]:
    """The trigger of the row's incident reached the row's channel."""
    trigger = aliased(OutboxRow)
    return exists().where(
        trigger.incident_id == OutboxRow.incident_id,
        trigger.channel == OutboxRow.channel,
        trigger.event == TRIGGERED,
        trigger.status == str(OutboxStatus.DELIVERED),
    )


def of_stack(stack: str | None) -> ColumnElement[bool]:
    """The rows a worker of ``stack`` sends: its own and those of no stack; every row when None."""
    if stack is None:
        return true()
    return or_(OutboxRow.stack == stack, OutboxRow.stack.is_(None))


def sendable(dialect: str, exclude: Collection[int], stack: str | None = None) -> ColumnElement[bool]:
    """Pending, unleased, not in ``exclude`` (rows the caller has in flight), of ``stack``
    (``of_stack``), first in line, and for an acknowledgement or resolve, after a delivered trigger."""
    condition = and_(
        OutboxRow.status == PENDING,
        of_stack(stack),
        unleased(dialect),
        first_in_line(),
        or_(OutboxRow.event == TRIGGERED, OutboxRow.incident_id.is_(None), trigger_delivered()),
    )
    if exclude:
        condition = and_(condition, OutboxRow.id.not_in(list(exclude)))
    return condition


async def enqueue(
    conn: AsyncConnection,
    messages: Sequence[Message],
    *,
    now: datetime,
    expire_after: dict[str, float],
    incident_id: int | None = None,
    stack: str | None = None,
) -> int:
    """Add ``messages`` not already in the outbox, as queued by the stack file ``stack``
    (``Stack.identity``; None from the shell); returns how many were added."""
    pages = [(incident_id, messages)]
    return await enqueue_many(conn, pages, now=now, expire_after=expire_after, stack=stack)


async def enqueue_many(
    conn: AsyncConnection,
    pages: Sequence[tuple[int | None, Sequence[Message]]],
    *,
    now: datetime,
    expire_after: dict[str, float],
    stack: str | None = None,
) -> int:
    """``enqueue`` for the messages of many incidents (an alert storm's) in two statements."""
    keys = [m.key for _, messages in pages for m in messages]
    if not keys:
        return 0
    known = set((await conn.execute(select(OutboxRow.key).where(OutboxRow.key.in_(keys)))).scalars())
    fresh = [(incident_id, m) for incident_id, messages in pages for m in messages if m.key not in known]
    if fresh:
        await conn.execute(
            insert(OutboxRow),
            [
                {
                    "key": m.key,
                    "channel": m.channel,
                    "incident_id": incident_id,
                    "stack": stack,
                    "event": str(m.event),
                    "payload": dict(m.payload),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "expires_at": now + timedelta(seconds=expire_after.get(m.channel, 86400.0)),
                }
                for incident_id, m in fresh
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
    exclude: Collection[int] = (),
    stack: str | None = None,
) -> list[OutboxEntry]:
    """Claim up to ``limit`` sendable rows that are due and not expired, oldest first.

    Each claimed row counts an attempt and is leased for ``lease`` seconds of the database's
    clock under a fresh token. Only rows of ``channels`` when given, none of ``skip_channels``,
    none of ``exclude`` (the caller's rows in flight, whatever their lease says), and only
    those a worker of ``stack`` sends (``of_stack``).
    """
    dialect = engine.dialect.name
    picked = (
        select(OutboxRow.id)
        .where(
            sendable(dialect, exclude, stack), OutboxRow.next_attempt_at <= now, OutboxRow.expires_at > now
        )
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
        .values(
            leased_until=db_now(dialect) + lease,
            # One token per claim, not per row: the rows of one claim share one holder.
            lease_token=uuid.uuid4().hex,
            attempts=OutboxRow.attempts + 1,
        )
        .returning(*COLUMNS)
    )
    async with engine.begin() as conn:
        rows = (await conn.execute(statement)).all()
    return sorted((entry(row) for row in rows), key=lambda e: (e.created_at, e.id))


async def oldest_due(
    engine: AsyncEngine,
    channel: str,
    now: datetime,
    *,
    exclude: Collection[int] = (),
    stack: str | None = None,
) -> datetime | None:
    """When the oldest row of ``channel`` that could be claimed now (by a worker of ``stack``)
    was queued; None when none can: where a group window opens (``notify.grouping``)."""
    query = select(func.min(OutboxRow.created_at)).where(
        sendable(engine.dialect.name, exclude, stack),
        OutboxRow.channel == channel,
        OutboxRow.next_attempt_at <= now,
        OutboxRow.expires_at > now,
    )
    async with engine.connect() as conn:
        moment = (await conn.execute(query)).scalar_one_or_none()
    return utc(moment) if moment is not None else None


async def finish(engine: AsyncEngine, claimed: OutboxEntry, **values: Any) -> bool:
    """Change a claimed row and end its lease, if the claim still holds; False when it does not."""
    # Only a pending row under this claim's token changes: one that expired, was finished by
    # another worker, or was claimed again after its lease ran out stays as it is.
    statement = (
        update(OutboxRow)
        .where(
            OutboxRow.id == claimed.id,
            OutboxRow.status == PENDING,
            OutboxRow.lease_token == claimed.lease_token,
        )
        .values(leased_until=None, lease_token=None, **values)
    )
    async with engine.begin() as conn:
        return (await conn.execute(statement)).rowcount == 1


async def expire(
    engine: AsyncEngine, now: datetime, *, exclude: Collection[int] = (), stack: str | None = None
) -> list[OutboxEntry]:
    """Give up on pending rows (of ``stack``: ``of_stack``) past their ``expires_at``; returns them.

    Rows under a live lease or in ``exclude`` (being sent right now) are left to their sender
    and expire afterwards.
    """
    condition = and_(
        OutboxRow.status == PENDING,
        OutboxRow.expires_at <= now,
        unleased(engine.dialect.name),
        of_stack(stack),
    )
    if exclude:
        condition = and_(condition, OutboxRow.id.not_in(list(exclude)))
    statement = (
        update(OutboxRow).where(condition).values(status=str(OutboxStatus.EXPIRED)).returning(*COLUMNS)
    )
    async with engine.begin() as conn:
        rows = (await conn.execute(statement)).all()
    return sorted((entry(row) for row in rows), key=lambda e: (e.created_at, e.id))


async def depth(engine: AsyncEngine, stack: str | None = None) -> int:
    """How many messages (of ``stack``: ``of_stack``) are waiting to be sent (held ones are
    not: they wait for quiet to end)."""
    query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING, of_stack(stack))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def next_due(
    engine: AsyncEngine,
    *,
    skip_channels: Collection[str] = (),
    exclude: Collection[int] = (),
    stack: str | None = None,
) -> datetime | None:
    """When the earliest row a worker of ``stack`` may send is due (in the past when one is due
    now); None when none waits.

    Rows under a live lease, in ``exclude``, or waiting behind an earlier row of their incident
    and channel are not counted: they are due when something else happens, not at a time.
    """
    query = select(func.min(OutboxRow.next_attempt_at)).where(sendable(engine.dialect.name, exclude, stack))
    if skip_channels:
        query = query.where(OutboxRow.channel.not_in(list(skip_channels)))
    async with engine.connect() as conn:
        moment = (await conn.execute(query)).scalar_one_or_none()
    return utc(moment) if moment is not None else None


async def for_incident(engine: AsyncEngine, incident_id: int) -> list[OutboxEntry]:
    """Every message sent or to be sent for an incident, in the order they were queued."""
    query = (
        select(*COLUMNS)
        .where(OutboxRow.incident_id == incident_id)
        .order_by(OutboxRow.created_at, OutboxRow.id)
    )
    async with engine.connect() as conn:
        return [entry(row) for row in (await conn.execute(query)).all()]


async def get(engine: AsyncEngine, key: str) -> OutboxEntry | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*COLUMNS).where(OutboxRow.key == key))).first()
    return entry(row) if row is not None else None


def entry(row: Row[Any]) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        key=row.key,
        channel=row.channel,
        event=row.event,
        payload=dict(row.payload),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        incident_id=row.incident_id,
        created_at=utc(row.created_at),
        next_attempt_at=utc(row.next_attempt_at),
        expires_at=utc(row.expires_at),
        delivered_at=utc(row.delivered_at) if row.delivered_at is not None else None,
        last_error=row.last_error,
        leased_until=row.leased_until,
        lease_token=row.lease_token,
        stack=row.stack,
    )


def utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Vigil stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
