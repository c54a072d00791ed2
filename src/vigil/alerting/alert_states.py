"""Alerts that survive a restart: every pending and firing alert of a stack file's rules is kept
in ``alert_states``, and put back before the first evaluation after a start.

A firing alert comes back firing, on the incident it opened, so that nobody is paged again. A
pending one comes back with the time it had spent pending before Vigil went down, the downtime
not counted, as Prometheus' ``RestoreForState`` does: a ``for: 5m`` alert pending 4 minutes
fires about a minute after the start, if its expression still returns it then (else it is
dropped, as at any evaluation). With ``metrics.restore_for_grace`` (Prometheus'
``--rules.alert.for-grace-period``), an alert whose ``for`` is at least the grace fires no
sooner than the grace after the start. One difference: Prometheus starts a pending alert whose
``for`` is shorter than the grace afresh; Vigil keeps its time, since a restart (a deploy of
Vigil) must not hold back a page by a whole ``for``.

Writes: the row of an alert that starts firing and pages is written in the transaction that
opens or joins its incident (``within`` of ``IncidentService.open_many``), and that of one whose
end resolves its incident goes in the resolving's (``recovery.recover_many``); the rest (new
pending alerts, those that went away, held symptoms, the evaluation time that marks when Vigil
was last up) go through one ``WriteBatch`` per cycle. Only rows of this stack file (``Stack.identity``) are read or
changed; rows of rules no longer in the stack file are dropped at the start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.alerting.alerts import Alert, AlertState, RuleAlerts
from vigil.engine.clock import Clock
from vigil.engine.supervisor import Stage
from vigil.store.tables import AlertStateRow
from vigil.store.write_batch import WriteBatch

log = logging.getLogger("vigil.rules")

Key = tuple[str, str]  # (rule name, fingerprint)


@dataclass(frozen=True)
class Change:
    """One alert's row as it is now (``row``), or gone (``row`` None); or, with ``seen``, the
    moment every row of the stack was last evaluated."""

    key: Key | None = None
    row: Mapping[str, Any] | None = None
    seen: datetime | None = None


def restored_active_at(active_at: float, seen_at: float, start: float, hold: float, grace: float) -> float:
    """The active-since time a pending alert gets back at ``start``: ``seen_at`` is the last
    evaluation before Vigil went down, ``hold`` the rule's ``for``."""
    remaining = hold - (seen_at - active_at)
    if remaining <= 0:
        return active_at  # due at the next evaluation, as it would have been
    if hold >= grace and remaining < grace:
        return start + grace - hold  # fires the grace after the start
    return active_at + max(0.0, start - seen_at)  # the downtime does not count as pending


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class AlertStates:
    def __init__(
        self, engine: AsyncEngine, stack: str, clock: Clock, *, grace: float, stage: Stage | None = None
    ) -> None:
        self.engine = engine
        self.stack = stack
        self.clock = clock
        self.grace = grace
        self.incidents: dict[Key, int] = {}  # the incident each firing alert opened or joined
        self.batch: WriteBatch[Change, None] = WriteBatch(
            engine, self._write, name="alert states", size=500, limit=2000, stage=stage
        )

    def row(self, alert: Alert, now: float, incident_id: int | None = None) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "rule": alert.rule,
            "fingerprint": alert.fingerprint,
            "labels": dict(alert.labels),
            "state": str(alert.state),
            "value": alert.value if alert.value == alert.value else 0.0,  # NaN has no JSON/SQL form
            "active_at": _moment(alert.active_at),
            "fired_at": _moment(alert.fired_at) if alert.fired_at is not None else None,
            "incident_id": incident_id,
            "seen_at": _moment(now),
        }

    async def restore(self, rules: Sequence[RuleAlerts]) -> int:
        """Put this stack's stored alerts back into ``rules``; drop the rows of rules it no longer
        has. Returns how many alerts came back."""
        start = self.clock.now().timestamp()
        by_name = {alerts.rule.name: alerts for alerts in rules}
        mine = AlertStateRow.stack == self.stack
        async with self.engine.begin() as conn:
            stored = (await conn.execute(select(AlertStateRow).where(mine))).all()
            gone = sorted({row.rule for row in stored} - set(by_name))
            if gone:
                await conn.execute(delete(AlertStateRow).where(mine, AlertStateRow.rule.in_(gone)))
        restored = 0
        for row in stored:
            alerts = by_name.get(row.rule)
            if alerts is None:
                continue
            active_at, seen_at = row.active_at.timestamp(), row.seen_at.timestamp()
            # One that fired without an incident was held as a symptom of a failing dependency;
            # comes back due, so its first evaluation holds it again, or pages if that recovered.
            firing = row.state == str(AlertState.FIRING) and row.incident_id is not None
            if row.state != str(AlertState.FIRING):
                active_at = restored_active_at(active_at, seen_at, start, alerts.rule.for_, self.grace)
            alert = Alert(
                rule=row.rule,
                labels=dict(row.labels),
                value=row.value,
                state=AlertState.FIRING if firing else AlertState.PENDING,
                active_at=active_at,
                fired_at=row.fired_at.timestamp() if firing and row.fired_at is not None else None,
                last_seen=start if firing else seen_at,
            )
            alerts.active[alert.fingerprint] = alert
            if row.incident_id is not None:
                self.incidents[(row.rule, alert.fingerprint)] = row.incident_id
            restored += 1
        if stored:
            log.info("restored %d alerts (%d dropped with their rules)", restored, len(stored) - restored)
        return restored

    async def record(self, changes: Sequence[Change]) -> None:
        """Write ``changes`` with the batch; returns once they are committed."""
        if changes:
            await self.batch.submit_many(changes)

    async def write_within(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write these alerts' rows inside ``conn``'s transaction (an incident's opening)."""
        await self._apply(conn, {(r["rule"], r["fingerprint"]): r for r in rows})
        for r in rows:
            if r["incident_id"] is not None:
                self.incidents[(r["rule"], r["fingerprint"])] = r["incident_id"]

    async def forget_within(self, conn: AsyncConnection, keys: Sequence[Key]) -> None:
        """Drop these alerts' rows inside ``conn``'s transaction (their incident's resolving)."""
        await self._apply(conn, dict.fromkeys(keys))
        for key in keys:
            self.incidents.pop(key, None)

    async def _write(self, conn: AsyncConnection, changes: Sequence[Change]) -> list[None]:
        latest: dict[Key, Mapping[str, Any] | None] = {}
        seen: datetime | None = None
        for change in changes:
            if change.key is not None:
                latest[change.key] = change.row
            if change.seen is not None:
                seen = change.seen
        await self._apply(conn, latest)
        if seen is not None:
            await conn.execute(
                update(AlertStateRow).where(AlertStateRow.stack == self.stack).values(seen_at=seen)
            )
        for key, row in latest.items():
            if row is None:
                self.incidents.pop(key, None)
        return [None] * len(changes)

    async def _apply(self, conn: AsyncConnection, latest: Mapping[Key, Mapping[str, Any] | None]) -> None:
        if not latest:
            return
        # Replaced rather than upserted: the same statements on SQLite and PostgreSQL.
        await conn.execute(
            delete(AlertStateRow).where(
                AlertStateRow.stack == self.stack,
                AlertStateRow.rule == bindparam("r"),
                AlertStateRow.fingerprint == bindparam("f"),
            ),
            [{"r": rule, "f": fingerprint} for rule, fingerprint in latest],
        )
        rows = [dict(row) for row in latest.values() if row is not None]
        if rows:
            await conn.execute(insert(AlertStateRow), rows)
