"""Escalation policies as the incident service sees them: which policy an incident follows, and
the state changes its pages make, inside the transaction of the change itself.

An incident that triggers with a policy starts at step 1, due at once (the ``Escalator`` pages
it); an acknowledgement or resolve stops it in the same transaction and drops the escalation
pages still waiting in the outbox, and its notice goes to every channel that was paged for the
incident, escalation contacts included: whoever was woken hears that it is over, also when a
silence started meanwhile (a notice is never held, and the outbox sends it only where the
trigger was delivered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.config.oncall import EscalationPolicy
from vigil.config.stack import StackFile
from vigil.incidents.model import Incident, iso
from vigil.notify.base import MessageEvent, OutboxStatus
from vigil.store.outbox import PENDING, TRIGGERED, unleased
from vigil.store.tables import EscalationRow, OutboxRow

DEFAULT_POLICY = "default"
# Marks the idempotency key of an escalation page; a channel name cannot hold the dot.
PAGE_MARK = "-escalation.r"
DROPPED_AFTER = "{event} before this escalation page was sent"


def policies(stack: StackFile) -> Mapping[str, EscalationPolicy]:
    """The stack file's escalation policies by name."""
    return stack.oncall.escalation


def policy_for(stack: StackFile, incident: Incident) -> str | None:
    """The escalation policy ``incident`` follows: the one its severity's level names, else
    ``default`` when the stack file has one."""
    named = stack.scheme.escalation(incident.severity)
    if named is not None and named in policies(stack):
        return named
    return DEFAULT_POLICY if DEFAULT_POLICY in policies(stack) else None


def page_key(store: str, incident_id: int, run: int, round_: int, step: int, channel: str) -> str:
    """The idempotency key of one page: a restarted escalation (its incident reopened) pages
    under new keys, a retried or repeated attempt at the same page under the same one."""
    again = f".n{run}" if run else ""
    return f"incident-{store}-{incident_id}{PAGE_MARK}{round_ + 1}.s{step + 1}{again}-{channel}"


async def channels_to_page(
    conn: AsyncConnection,
    stack: StackFile,
    incident: Incident,
    event: MessageEvent,
    now: datetime,
    labels: Mapping[str, str] | None,
) -> list[str]:
    """The channels ``event`` of ``incident`` goes to, with the escalation state it changes: a
    trigger starts the incident's escalation; an acknowledgement or resolve stops it and goes
    to every channel paged for the incident too.

    A trigger of an incident whose escalation started already for the same opening (it was
    raised back to a level that pages, or a check joined it with channels of its own) leaves
    that escalation as it stands: only opening and reopening start one from the first step."""
    if event is MessageEvent.TRIGGERED:
        policy = policy_for(stack, incident)
        if policy is not None and not await _started(conn, incident):
            shown = {**(labels or {}), "service": incident.service, "severity": str(incident.severity)}
            await start(conn, incident.id, policy, shown, now, run=incident.reopened)
        return list(incident.channels)
    by = incident.acknowledged_by if event is MessageEvent.ACKNOWLEDGED else incident.resolved_by
    await stop(conn, incident.id, f"{event} by {by or 'vigil'}", now, drop_pages=True)
    paged = await conn.execute(
        select(OutboxRow.channel)
        .where(OutboxRow.incident_id == incident.id, OutboxRow.event == TRIGGERED)
        .distinct()
    )
    return _unique([*incident.channels, *sorted(paged.scalars())])


async def level_channels(
    conn: AsyncConnection, stack: StackFile, incident: Incident, event: MessageEvent
) -> list[str]:
    """The incident's channels ``event`` goes to by its level: all of them while the level
    pages; for a level that does not (``pages: false``), no trigger, and follow-ups only where a
    trigger was queued before (its severity was lowered since)."""
    level = stack.scheme.get(incident.severity)
    if level is None or level.pages:
        return incident.channels
    if event is MessageEvent.TRIGGERED:
        return []
    queued = await conn.execute(
        select(OutboxRow.channel).where(OutboxRow.incident_id == incident.id, OutboxRow.event == TRIGGERED)
    )
    return sorted(set(queued.scalars()) & set(incident.channels))


async def _started(conn: AsyncConnection, incident: Incident) -> bool:
    """Whether the incident's escalation was started since it was last opened or reopened (the
    escalation's ``run`` counts its starts; ``reopened`` the incident's openings after the first)."""
    run = await conn.execute(select(EscalationRow.run).where(EscalationRow.incident_id == incident.id))
    found = run.scalar_one_or_none()
    return found is not None and found >= incident.reopened


async def start(
    conn: AsyncConnection,
    incident_id: int,
    policy: str,
    labels: Mapping[str, str],
    now: datetime,
    *,
    run: int | None = None,
) -> None:
    """Start (or, for an incident triggered again, restart) its escalation at step 1, due now;
    ``run`` names the start (default: the one after the last)."""
    values: dict[str, Any] = {
        "policy": policy,
        "step": 0,
        "round": 0,
        "next_page_at": now,
        "paged_at": None,
        "held_reason": None,
        "stopped_reason": None,
        "labels": dict(labels),
    }
    restarted = await conn.execute(
        update(EscalationRow)
        .where(EscalationRow.incident_id == incident_id)
        .values(run=EscalationRow.run + 1 if run is None else run, **values)
    )
    if restarted.rowcount == 0:
        await conn.execute(insert(EscalationRow).values(incident_id=incident_id, run=run or 0, **values))


async def stop(
    conn: AsyncConnection, incident_id: int, reason: str, now: datetime, *, drop_pages: bool = False
) -> bool:
    """Stop the incident's escalation if it runs; with ``drop_pages``, escalation pages not yet
    claimed by a sender are dropped (one in flight goes out). False when none was running."""
    stopped = await conn.execute(
        update(EscalationRow)
        .where(EscalationRow.incident_id == incident_id, EscalationRow.stopped_reason.is_(None))
        .values(stopped_reason=reason, next_page_at=None, held_reason=None)
    )
    if drop_pages:
        dialect = conn.dialect.name
        await conn.execute(
            update(OutboxRow)
            .where(
                and_(
                    OutboxRow.incident_id == incident_id,
                    OutboxRow.key.contains(PAGE_MARK, autoescape=True),
                    OutboxRow.status.in_([PENDING, str(OutboxStatus.HELD)]),
                    unleased(dialect),
                )
            )
            .values(status=str(OutboxStatus.DROPPED), last_error=DROPPED_AFTER.format(event=reason))
        )
    return bool(stopped.rowcount)


async def views(
    engine: AsyncEngine, stack: StackFile, incident_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """``escalation_view`` of each incident that has an escalation, by incident id."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(EscalationRow).where(EscalationRow.incident_id.in_(ids)))).all()
    return {row.incident_id: escalation_view(row, stack) for row in rows}  # type: ignore[arg-type]


def escalation_view(row: EscalationRow, stack: StackFile) -> dict[str, Any]:
    """Where an escalation stands, for the API and the pages: the step paged last (0 before the
    first page), of how many, in which round of how many, and when the next page goes out."""
    policy = policies(stack).get(row.policy)
    steps = len(policy.steps) if policy else 0
    rounds = policy.repeat + 1 if policy else 0
    paged = row.paged_at is not None
    # The row names the step paged next; the current one is the step before it.
    current = row.step if row.step > 0 else (steps if paged else 0)
    round_ = row.round + 1 if row.step > 0 or not paged else row.round
    return {
        "policy": row.policy,
        "step": current,
        "steps": steps,
        "round": round_,
        "rounds": rounds,
        "next_page_at": iso(row.next_page_at),
        "held": row.held_reason,
        "stopped": row.stopped_reason,
    }


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
