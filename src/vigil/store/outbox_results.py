"""What became of claimed outbox rows — delivered, to be tried again, failed for good, held —
recorded one at a time (``mark_delivered``, ``mark_failed``) or many to a statement (``record``,
through a ``WriteBatch``: the outcomes of sends that finish close together share a transaction).

An outcome changes its row only while the claim that sent it still holds: the row is pending
under the same ``lease_token``. Recording one again after its transaction failed is therefore
safe: a row recorded meanwhile (by this claim or by another worker after the lease ran out) is
left as it is and answered False. An outcome not yet written when the process dies leaves the
row claimed; it is claimed and sent again when its lease ends, and the receiver drops the
repeated idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, literal, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningUpdate

from vigil.engine.supervisor import Stage
from vigil.notify.base import OutboxStatus
from vigil.store.outbox import HELD, PENDING, OutboxEntry, finish
from vigil.store.tables import OutboxRow
from vigil.store.write_batch import WriteBatch

# The columns an outcome may set (the lease always ends with it).
COLUMNS = ("status", "attempts", "next_attempt_at", "delivered_at", "last_error")


@dataclass(frozen=True)
class Outcome:
    """The values a claimed row takes if its claim still holds."""

    claimed: OutboxEntry
    values: Mapping[str, Any]


def delivered(claimed: OutboxEntry, now: datetime) -> Outcome:
    return Outcome(claimed, {"status": str(OutboxStatus.DELIVERED), "delivered_at": now, "last_error": None})


def failed(claimed: OutboxEntry, error: str, next_attempt_at: datetime | None) -> Outcome:
    """A failed attempt: tried again at ``next_attempt_at``, or failed for good when None."""
    if next_attempt_at is None:
        return Outcome(claimed, {"status": str(OutboxStatus.FAILED), "last_error": error})
    return Outcome(claimed, {"next_attempt_at": next_attempt_at, "last_error": error})


def held(claimed: OutboxEntry, reason: str) -> Outcome:
    """Set aside while quiet holds; the claim counted an attempt, but nothing was tried."""
    return Outcome(claimed, {"status": HELD, "attempts": claimed.attempts - 1, "last_error": reason})


async def mark_delivered(engine: AsyncEngine, claimed: OutboxEntry, now: datetime) -> bool:
    """Record a delivery; False if the claim is no longer ours (expired, or leased by another)."""
    return await finish(engine, claimed, **delivered(claimed, now).values)


async def mark_failed(
    engine: AsyncEngine, claimed: OutboxEntry, error: str, next_attempt_at: datetime | None
) -> bool:
    """Record a failed attempt: retried at ``next_attempt_at``, or failed for good when None."""
    return await finish(engine, claimed, **failed(claimed, error, next_attempt_at).values)


def results_batch(
    engine: AsyncEngine, *, stage: Stage | None = None, linger: float = 0.005
) -> WriteBatch[Outcome, bool]:
    """The batch a worker records its outcomes through; each answer says whether the claim held."""
    return WriteBatch(engine, record, name="outbox results", stage=stage, linger=linger)


async def record(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> list[bool]:
    """Write ``outcomes`` in one UPDATE (one more for each repeat of a row); for each, whether
    its claim still held and the row changed."""
    answers = [False] * len(outcomes)
    left = list(enumerate(outcomes))
    while left:
        # A row twice in one statement would take one of its values: repeats go in the next.
        seen: set[int] = set()
        now: list[tuple[int, Outcome]] = []
        later: list[tuple[int, Outcome]] = []
        for index, outcome in left:
            (later if outcome.claimed.id in seen else now).append((index, outcome))
            seen.add(outcome.claimed.id)
        changed = set((await conn.execute(statement([o for _, o in now]))).scalars())
        for index, outcome in now:
            answers[index] = outcome.claimed.id in changed
        left = later
    return answers


def statement(outcomes: Sequence[Outcome]) -> ReturningUpdate[int]:
    """``UPDATE outbox SET col = CASE id WHEN … END … WHERE id IN (…) AND status = 'pending' AND
    lease_token = CASE id WHEN … END RETURNING id``: every row its own values and its own claim,
    in one statement on SQLite and PostgreSQL alike."""
    unknown = {name for o in outcomes for name in o.values} - set(COLUMNS)
    if unknown:
        raise ValueError(f"an outcome cannot set {sorted(unknown)}")
    table = OutboxRow.__table__.c
    per_row = {
        name: case(
            {o.claimed.id: literal(o.values[name], table[name].type) for o in outcomes if name in o.values},
            value=OutboxRow.id,
            else_=table[name],
        )
        for name in COLUMNS
        if any(name in o.values for o in outcomes)
    }
    token = case(
        {o.claimed.id: literal(o.claimed.lease_token, table.lease_token.type) for o in outcomes},
        value=OutboxRow.id,
    )
    return (
        update(OutboxRow)
        .where(
            OutboxRow.id.in_([o.claimed.id for o in outcomes]),
            OutboxRow.status == PENDING,
            OutboxRow.lease_token == token,
        )
        .values(leased_until=None, lease_token=None, **per_row)
        .returning(OutboxRow.id)
    )
