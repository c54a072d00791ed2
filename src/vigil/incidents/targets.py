"""Missed response targets: an incident not acknowledged, or not resolved, within its severity's
target gets a timeline line at the moment the target passed, once.

"Once" is the store's: a miss is a row of ``incident_target_misses``, unique per incident and
target, inserted with ``ON CONFLICT DO NOTHING``; only the instance whose insert landed writes
the timeline line. So a restart, a second instance or a late acknowledge never records it twice.

Two ways find a miss: a transition (acknowledge, resolve, mitigate) records the one it made
late in its own transaction, and ``TargetWatch`` looks every few seconds for open incidents
whose target passed while nobody acted. ``vigil_incident_targets_missed_total`` is counted
from the same rows, so it survives restarts and agrees across instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from vigil.engine.clock import Clock
from vigil.incidents.model import EventKind, utc
from vigil.incidents.severity import IncidentStatus, Target
from vigil.store.tables import IncidentEventRow, IncidentRow, TargetMissRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService

OPEN = [str(s) for s in IncidentStatus if s is not IncidentStatus.RESOLVED]
WATCH_EVERY = 10.0
MOST_AT_ONCE = 500  # misses recorded per pass; the rest at the next (a backlog after downtime)


def _not_recorded(target: Target) -> ColumnElement[bool]:
    return ~exists().where(TargetMissRow.incident_id == IncidentRow.id, TargetMissRow.target == str(target))


def _missed(target: Target, now: datetime) -> tuple[Any, ColumnElement[bool]]:
    """The target's due time, and when it was missed: due before ``now`` and before the change
    that would have met it."""
    if target is Target.ACKNOWLEDGE:
        due: Any = IncidentRow.respond_by
        met = [IncidentRow.acknowledged_at, IncidentRow.resolved_at]
    else:
        due = IncidentRow.resolve_by
        met = [IncidentRow.resolved_at]
    late = and_(due.is_not(None), due < now, *[or_(m.is_(None), m > due) for m in met])
    return due, and_(late, _not_recorded(target))


async def record_misses(
    incidents: IncidentService, conn: AsyncConnection, now: datetime, ids: Sequence[int] | None = None
) -> list[tuple[int, str, str]]:
    """Record every target missed by the incidents ``ids`` (by every open incident when None),
    in the caller's transaction; returns (incident id, target, severity) of those recorded now."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    recorded: list[tuple[int, str, str]] = []
    for target in Target:
        due, missed = _missed(target, now)
        query = select(IncidentRow.id, IncidentRow.severity, due).where(missed)
        query = query.where(
            IncidentRow.id.in_(list(ids)) if ids is not None else IncidentRow.status.in_(OPEN)
        )
        rows = (await conn.execute(query.order_by(IncidentRow.id).limit(MOST_AT_ONCE))).all()
        for incident_id, severity, due_at in rows:
            values = {
                "incident_id": incident_id,
                "target": str(target),
                "severity": severity,
                "due_at": due_at,
                "recorded_at": now,
            }
            statement = upsert(TargetMissRow).values(**values).on_conflict_do_nothing()
            if (await conn.execute(statement.returning(TargetMissRow.id))).first() is None:
                continue  # another instance, or an earlier pass, recorded it
            level = incidents.stack.scheme.get(severity)
            within = _span(getattr(level, "acknowledge" if target is Target.ACKNOWLEDGE else "resolve", None))
            text = f"{target} target missed: not {_done(target)} within {within} ({severity})"
            row = incidents.event_row(incident_id, EventKind.TARGET_MISSED, text, utc(due_at))
            await conn.execute(insert(IncidentEventRow).values(**row))
            recorded.append((incident_id, str(target), severity))
    return recorded


async def miss_counts(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """Misses recorded so far by (severity, target), for ``/metrics``."""
    query = select(TargetMissRow.severity, TargetMissRow.target, func.count()).group_by(
        TargetMissRow.severity, TargetMissRow.target
    )
    return {(severity, target): int(n) for severity, target, n in (await conn.execute(query)).all()}


class TargetWatch:
    """Looks for missed targets every ``every`` seconds (a supervised task of ``vigil up``)."""

    def __init__(self, incidents: IncidentService, clock: Clock, every: float = WATCH_EVERY) -> None:
        self.incidents = incidents
        self.clock = clock
        self.every = every
        self.counts: dict[tuple[str, str], int] = {}

    async def run(self) -> None:
        while True:
            await self.once()
            await self.clock.sleep(self.every)

    async def once(self) -> list[tuple[int, str, str]]:
        """One look: records what was missed since the last, refreshes the counts."""
        async with self.incidents.engine.begin() as conn:
            recorded = await record_misses(self.incidents, conn, self.clock.now())
            self.counts = await miss_counts(conn)
        if recorded:
            self.incidents.on_enqueued()  # readers see the new timeline lines at once
        return recorded


def _done(target: Target) -> str:
    return "acknowledged" if target is Target.ACKNOWLEDGE else "resolved"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "its target"
    delta = timedelta(seconds=seconds)
    if delta.days:
        return f"{delta.days}d" + (f"{delta.seconds // 3600}h" if delta.seconds >= 3600 else "")
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h" + (f"{int(seconds % 3600 // 60)}m" if seconds % 3600 >= 60 else "")
    return f"{int(seconds // 60)}m" if seconds >= 60 else f"{int(seconds)}s"
