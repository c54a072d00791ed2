"""The escalator: pages each incident's escalation step when it falls due, then waits the step's
``wait`` for an acknowledgement, then the next step; the whole policy ``repeat`` times more.

Each due escalation is planned outside any transaction (is the incident still unacknowledged,
does a silence or maintenance window hold it, whom do the step's targets name now), then
applied in one transaction with its pages: a conditional update of its row (still at the step
and round that was planned, still due, its incident still triggered) claims it, and the pages
go into the outbox under keys that carry the round and step. So a ``kill -9`` at any moment
either left the step unpaged and due (it is paged after the restart) or paged and advanced;
two instances sharing PostgreSQL both try, one update wins, the other changes nothing.

While quiet holds an incident its escalation waits at its step and is looked at again every
``HOLD_RECHECK`` seconds: when the quiet ends on a still-triggered incident, the step pages then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.engine.clock import Clock, nap
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.reads import acted_on
from vigil.incidents.service import IncidentService, Quiet
from vigil.incidents.severity import IncidentStatus
from vigil.notify.base import Message, MessageEvent
from vigil.oncall.contacts import CHANNEL, PERSON, SCHEDULE, Directory, channel_names
from vigil.oncall.escalation import page_key, policies
from vigil.store.identity import store_id
from vigil.store.tables import EscalationRow, IncidentEventRow, IncidentRow

HOLD_RECHECK = 30.0  # seconds between looks at an escalation quiet holds
BATCH = 100  # escalations paged per transaction
CONTENDED = 0.05  # real seconds to wait when an escalation is due but was not ours to page


class Outcome(StrEnum):
    PAGE = "page"
    HOLD = "hold"
    STOP = "stop"


@dataclass(frozen=True)
class Due:
    """An escalation whose next page is due, with its incident as read before planning."""

    incident: Incident
    policy: str
    run: int
    step: int
    round: int
    held_reason: str | None
    labels: dict[str, str]


@dataclass(frozen=True)
class Page:
    channel: str
    ack_as: str  # whom the page's acknowledge link acknowledges for
    line: str  # its timeline line: "paged erin (schedule primary) via mailto://…"


@dataclass(frozen=True)
class Plan:
    due: Due
    outcome: Outcome
    reason: str = ""
    pages: tuple[Page, ...] = ()
    notes: tuple[str, ...] = ()  # targets that named nobody, said on the timeline
    paged: tuple[int, int] = (0, 0)  # the step and round paged (from 0)
    after: tuple[int, int] = (0, 0)  # the step and round paged next
    wait: float = 0.0
    position: str = ""  # "step 1 of 2, round 1 of 2, policy default"


class Escalator:
    def __init__(
        self,
        engine: AsyncEngine,
        incidents: IncidentService,
        directory: Directory | None,
        clock: Clock,
        *,
        quiet: Quiet | None = None,
        poll: float = 5.0,
        batch: int = BATCH,
    ) -> None:
        self.engine = engine
        self.incidents = incidents
        self.stack = incidents.stack
        self.directory = directory
        self.clock = clock
        self.quiet = quiet
        self.poll = poll  # escalations started by another instance are found within this
        self.batch = batch
        self.pages_sent = 0
        self._wake = asyncio.Event()
        # Another stack file's escalations over a shared store are its own to page (or stop):
        # its policies are not in this one (incidents.reads.acted_on).
        self._ours = exists().where(IncidentRow.id == EscalationRow.incident_id, acted_on(incidents.stack_id))

    def wake(self) -> None:
        """Look now: an incident was opened (its first step is due at once)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            handled = await self.run_once()
            delay = await self._delay()
            if delay > 0:
                await self._nap(delay)
            elif not handled:
                # Due, yet nothing was ours to page: another instance holds it this instant, or
                # time moved on while we read. A breath of real time, then look again.
                await asyncio.sleep(CONTENDED)

    async def run_once(self) -> int:
        """Page (or hold, or stop) every escalation due now, a batch at a time; how many were."""
        handled = 0
        while True:
            now = self.clock.now()
            due = await self._due(now)
            plans = [await self._plan(d, now) for d in due]
            if not plans:
                return handled
            paged = 0
            async with self.engine.begin() as conn:
                store = await store_id(conn)
                for plan in plans:
                    paged += await self._apply(conn, store, plan, now)
            if paged:
                self.pages_sent += paged
                self.incidents.on_enqueued()
            handled += len(plans)
            if len(due) < self.batch:
                return handled

    # --- reading and planning, outside any transaction ----------------------------------

    async def _due(self, now: datetime) -> list[Due]:
        query = (
            select(EscalationRow.__table__)
            .where(EscalationRow.stopped_reason.is_(None), EscalationRow.next_page_at <= now, self._ours)
            .order_by(EscalationRow.next_page_at, EscalationRow.incident_id)
            .limit(self.batch)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            ids = [row.incident_id for row in rows]
            found = await conn.execute(select(IncidentRow).where(IncidentRow.id.in_(ids)))
            incidents = {i.id: Incident.from_row(i) for i in found.all()}  # type: ignore[arg-type]
        return [
            Due(
                incidents[e.incident_id],
                e.policy,
                e.run,
                e.step,
                e.round,
                e.held_reason,
                dict(e.labels or {}),
            )
            for e in rows
            if e.incident_id in incidents
        ]

    async def _plan(self, due: Due, now: datetime) -> Plan:
        incident = due.incident
        if incident.status is not IncidentStatus.TRIGGERED:
            by = incident.acknowledged_by or incident.resolved_by or "vigil"
            return Plan(due, Outcome.STOP, f"{incident.status} by {by}")
        policy = policies(self.stack).get(due.policy)
        if policy is None or not policy.steps:
            return Plan(due, Outcome.STOP, f"policy {due.policy} is no longer in the stack file")
        step, round_ = due.step, due.round
        if step >= len(policy.steps):  # the policy lost steps since: on to the next round
            step, round_ = 0, round_ + 1
        rounds = policy.repeat + 1
        if round_ >= rounds:
            times = f"{rounds} round{'s' if rounds != 1 else ''}"
            return Plan(due, Outcome.STOP, f"policy {due.policy} ended: nobody acknowledged after {times}")
        if self.quiet is not None and (reason := await self.quiet.reason(due.labels, now)):
            return Plan(due, Outcome.HOLD, reason)
        pages, notes = self._targets(policy.steps[step].notify, now)
        after, after_round = (step + 1, round_) if step + 1 < len(policy.steps) else (0, round_ + 1)
        return Plan(
            due,
            Outcome.PAGE,
            pages=tuple(pages),
            notes=tuple(notes),
            paged=(step, round_),
            after=(after, after_round),
            wait=policy.steps[step].wait,
            position=f"step {step + 1} of {len(policy.steps)}, round {round_ + 1} of {rounds}, "
            f"policy {due.policy}",
        )

    def _targets(self, targets: Sequence[str], now: datetime) -> tuple[list[Page], list[str]]:
        """The pages a step's targets make now, one per contact, and a note per target that
        names nobody."""
        pages: dict[str, Page] = {}
        notes: list[str] = []
        for target in targets:
            if target.startswith(CHANNEL):
                name = target[len(CHANNEL) :]
                if name in self.stack.notify.channels:
                    pages.setdefault(name, Page(name, f"someone on {name}", f"paged {name} (channel)"))
                else:
                    notes.append(f"not paged: channel {name} is not in the stack file")
                continue
            if self.directory is None or not target.startswith((PERSON, SCHEDULE)):
                notes.append(f"not paged: {target} names no one Vigil knows")
                continue
            try:
                found = self.directory.contacts(target, now)
            except Exception as err:  # the stack file changed: the person or schedule is gone
                notes.append(f"not paged: {target}: {self.incidents.redact(str(err))}")
                continue
            if not found:
                kind, _, name = target.partition(":")
                notes.append(
                    f"not paged: schedule {name} has nobody on call"
                    if kind == "schedule"
                    else f"not paged: {name} has no contact"
                )
            source = f" (schedule {target[len(SCHEDULE) :]})" if target.startswith(SCHEDULE) else ""
            for person, channel, shown in channel_names(found):
                pages.setdefault(channel, Page(channel, person, f"paged {person}{source} via {shown}"))
        return list(pages.values()), notes

    # --- applying, inside one transaction -----------------------------------------------

    async def _apply(self, conn: AsyncConnection, store: str, plan: Plan, now: datetime) -> int:
        """Apply ``plan`` if its escalation is still where it was planned; the pages it queued."""
        due = plan.due
        incident_id = due.incident.id
        claim = and_(
            EscalationRow.incident_id == incident_id,
            EscalationRow.run == due.run,
            EscalationRow.step == due.step,
            EscalationRow.round == due.round,
            EscalationRow.stopped_reason.is_(None),
            EscalationRow.next_page_at <= now,
        )
        if plan.outcome is Outcome.STOP:
            done = await conn.execute(
                update(EscalationRow)
                .where(claim)
                .values(stopped_reason=plan.reason, next_page_at=None, held_reason=None)
            )
            if done.rowcount:
                await self._line(conn, incident_id, EventKind.NOTE, f"escalation stopped: {plan.reason}", now)
            return 0
        if plan.outcome is Outcome.HOLD:
            again = now + timedelta(seconds=HOLD_RECHECK)
            done = await conn.execute(
                update(EscalationRow).where(claim).values(next_page_at=again, held_reason=plan.reason)
            )
            if done.rowcount and plan.reason != due.held_reason:
                text = f"escalation held: {plan.reason}"
                await self._line(conn, incident_id, EventKind.SUPPRESSED, text, now)
            return 0
        triggered = exists().where(
            IncidentRow.id == incident_id, IncidentRow.status == str(IncidentStatus.TRIGGERED)
        )
        done = await conn.execute(
            update(EscalationRow)
            .where(claim, triggered)
            .values(
                step=plan.after[0],
                round=plan.after[1],
                next_page_at=now + timedelta(seconds=plan.wait),
                paged_at=now,
                held_reason=None,
            )
        )
        if not done.rowcount:
            return 0  # another instance paged it, or it was acknowledged meanwhile
        if due.held_reason:
            await self._line(conn, incident_id, EventKind.NOTE, "quiet ended: the escalation goes on", now)
        for note in plan.notes:
            await self._line(conn, incident_id, EventKind.ESCALATED, f"{note} ({plan.position})", now)
        for page in plan.pages:
            await self._line(conn, incident_id, EventKind.ESCALATED, f"{page.line} ({plan.position})", now)
        return await self._enqueue(conn, store, plan, now)

    async def _enqueue(self, conn: AsyncConnection, store: str, plan: Plan, now: datetime) -> int:
        incident = plan.due.incident
        step, round_ = plan.paged
        payload = {
            **self.incidents.payload(incident, MessageEvent.TRIGGERED),
            # What the outbox judges quiet by, as for the incident's own pages.
            "labels": {k: self.incidents.redact(v) for k, v in plan.due.labels.items()},
            "escalation": {"policy": plan.due.policy, "step": step + 1, "round": round_ + 1},
        }
        messages = [
            Message(
                page_key(store, incident.id, plan.due.run, round_, step, page.channel),
                page.channel,
                MessageEvent.TRIGGERED,
                {**payload, "ack_as": page.ack_as},
            )
            for page in plan.pages
        ]
        return await self.incidents.queue(conn, incident.id, messages, now)

    async def _line(
        self, conn: AsyncConnection, incident_id: int, kind: EventKind, text: str, now: datetime
    ) -> None:
        await conn.execute(
            insert(IncidentEventRow).values(**self.incidents.event_row(incident_id, kind, text, now))
        )

    # --- waiting ------------------------------------------------------------------------

    async def _delay(self) -> float:
        """Seconds until the next escalation falls due, at most ``poll``; 0 when one is due."""
        query = select(func.min(EscalationRow.next_page_at)).where(
            EscalationRow.stopped_reason.is_(None), self._ours
        )
        async with self.engine.connect() as conn:
            moment = (await conn.execute(query)).scalar_one_or_none()
        if moment is None:
            return self.poll
        return min(max((moment - self.clock.now()).total_seconds(), 0.0), self.poll)

    async def _nap(self, seconds: float) -> None:
        await nap(self.clock, seconds, self._wake)
