"""The incident lifecycle: open, acknowledge, resolve, annotate — each change and the pages it
causes committed in one transaction.

One open incident per key (``check:api.health``): the database's partial unique index holds
that even when two Vigil instances race, so a check that stays down never opens a second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.config.stack import CheckSpec, StackFile
from vigil.engine.clock import Clock
from vigil.errors import ConflictError
from vigil.incidents import checklist as checklists
from vigil.incidents import lifecycle, merging
from vigil.incidents.check_incidents import open_or_join
from vigil.incidents.checklist import ChecklistItem
from vigil.incidents.delivery_lines import DeliveryLines
from vigil.incidents.flapping import FlapGuard
from vigil.incidents.inputs import bounded
from vigil.incidents.lifecycle import Role
from vigil.incidents.model import EventKind, Incident, TimelineEntry
from vigil.incidents.opening import OpenRequest, Within, open_many, open_one
from vigil.incidents.reads import IncidentReads, check_incident_key, check_key
from vigil.incidents.recovery import recover_many
from vigil.incidents.severity import IncidentStatus
from vigil.incidents.targets import record_misses
from vigil.notify.base import Message, MessageEvent
from vigil.oncall.escalation import channels_to_page, level_channels
from vigil.probes.base import Result
from vigil.store.identity import store_id
from vigil.store.outbox import enqueue
from vigil.store.tables import IncidentEventRow, IncidentRow


class Quiet(Protocol):
    """Why an alert with these labels should page no one now (a silence, a maintenance window)."""

    def reason(self, labels: Mapping[str, str], now: datetime) -> Awaitable[str | None]: ...


# An incident and the line that opened it → the runbook sections its page names (id, title, why).
Suggest = Callable[[Incident, str | None], list[dict[str, str]]]


class IncidentService(IncidentReads):
    def __init__(
        self,
        engine: AsyncEngine,
        stack: StackFile,
        clock: Clock,
        *,
        dashboard_url: str = "",
        on_enqueued: Callable[[], None] | None = None,
        quiet: Quiet | None = None,
        redact: Callable[[str], str] | None = None,
        suggest: Suggest | None = None,
    ) -> None:
        self.engine = engine
        # The runbook sections a trigger's page names (runbooks.suggest); none without runbooks.
        self.suggest = suggest
        # The stack file's redactor: an alert's annotation or a responder's note may hold a
        # value from the environment; neither a timeline nor a page shows it.
        self.redact = redact or (lambda text: text)
        self.deliveries = DeliveryLines(engine, self.event_row, clock.now)
        self.stack = stack
        self.clock = clock
        self.dashboard_url = dashboard_url.rstrip("/")
        self.on_enqueued = on_enqueued or (lambda: None)
        self.quiet = quiet
        self.expire_after = {name: c.expire_after for name, c in stack.notify.channels.items()}
        # Alerts that keep changing are held instead of paging each time (``flapping:``; default off).
        self.flaps = FlapGuard(self, stack.flapping) if stack.flapping else None

    # --- changes -------------------------------------------------------------------------

    async def open_for_check(self, spec: CheckSpec, result: Result, failures: int) -> Incident | None:
        """Open an incident for a failing check and page its channels, or join the open incident
        of its service (``incidents.check_incidents``); the incident opened, else None."""
        return await open_or_join(self, spec, result, failures)

    async def open(
        self,
        *,
        key: str,
        title: str,
        severity: str,
        service: str,
        check_id: str | None,
        reason: str | None,
        channels: list[str] | None,
        trigger: str,
        labels: Mapping[str, str] | None = None,
        also: Sequence[str] = (),
        join: bool = False,
    ) -> Incident | None:
        """Open the incident for ``key`` unless one is open; returns it, or None when it was open.
        While a silence or maintenance window matches its labels, its pages are held (the
        outbox asks when it sends); when the quiet ends on a still-open incident, it pages.

        ``also``: the triggers of more alerts of the same group, noted "also …" on its timeline.
        With ``join``, an incident already open gets ``trigger`` and ``also`` noted so instead,
        in the same transaction (an alert storm costs one per group, not two per alert)."""
        request = OpenRequest(
            key, title, severity, service, check_id, reason, channels, trigger, labels, also, join
        )
        return await open_one(self, request)

    async def open_many(
        self, requests: Sequence[OpenRequest], within: Within | None = None
    ) -> list[Incident | None]:
        """``open`` for many groups at once (an alert storm): what ``open`` answers for each, in
        order, with the same timeline lines and pages, in one transaction per ~200 requests;
        ``within`` writes more in each of those transactions (``opening.Within``)."""
        return await open_many(self, requests, within=within)

    async def recover_check(self, check_id: str, result: Result) -> Incident | None:
        """Resolve the open incident of the check (its own, or its service's shared one)."""
        service, _, name = check_id.partition(".")
        check = self.stack.services[service].checks.get(name) if service in self.stack.services else None
        key = (
            check_incident_key(CheckSpec(service, name, check)) if check is not None else check_key(check_id)
        )
        return await self.recover(key, f"{check_id} passed again")

    async def recover(self, key: str, text: str) -> Incident | None:
        """Resolve the open incident for ``key`` (its cause went away), noting ``text`` and how long it took."""
        [incident] = await recover_many(self, [(key, text)])
        return incident

    async def recover_many(self, recoveries: Sequence[tuple[str, str]]) -> list[Incident | None]:
        """``recover(key, text)`` for many pairs at once (a storm's resolved notices): what it
        answers for each, in order, with the same timeline lines and pages, ~200 to a transaction."""
        return await recover_many(self, recoveries)

    async def note_key(self, key: str, kind: EventKind, text: str) -> bool:
        """Add a timeline line to the open incident for ``key``; False when none is open."""
        async with self.engine.begin() as conn:
            row = await self._open_row(conn, key)
            if row is None:
                return False
            await self._event(conn, row.id, kind, text, "vigil", self.clock.now())
        return True

    async def acknowledge(self, incident_id: int, actor: str) -> Incident:
        async with self.engine.begin() as conn:
            now = self.clock.now()
            # Conditional: a resolve that commits between a read and this write must win.
            changed = await conn.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id, IncidentRow.status == str(IncidentStatus.TRIGGERED))
                .values(status=str(IncidentStatus.ACKNOWLEDGED), acknowledged_at=now, acknowledged_by=actor)
            )
            if changed.rowcount != 1:
                incident = await self._get(conn, incident_id)
                raise ConflictError(
                    f"incident {incident_id} is {incident.status}; only a triggered one can be acknowledged"
                )
            await self._event(
                conn, incident_id, EventKind.ACKNOWLEDGED, f"acknowledged by {actor}", actor, now
            )
            await record_misses(self, conn, now, [incident_id])  # acknowledged past its target
            incident = await self._get(conn, incident_id)
            await self._page(conn, incident, MessageEvent.ACKNOWLEDGED, now)
        self.on_enqueued()
        return incident

    async def resolve(self, incident_id: int, actor: str, note: str | None = None) -> Incident:
        note = bounded(note or "", "a note", required=False)
        async with self.engine.begin() as conn:
            now = self.clock.now()
            await self._get(conn, incident_id)  # 404 for an unknown id
            if note:  # rolled back with the rest when the resolve loses
                await self._event(conn, incident_id, EventKind.NOTE, note, actor, now)
            resolved = await self._set_resolved(conn, incident_id, actor, now)
            if resolved is None:
                raise ConflictError(f"incident {incident_id} is already resolved")
        self.on_enqueued()
        return resolved

    async def add_note(self, incident_id: int, actor: str, text: str) -> TimelineEntry:
        text = bounded(text, "a note")
        async with self.engine.begin() as conn:
            await self._get(conn, incident_id)
            now = self.clock.now()
            await self._event(conn, incident_id, EventKind.NOTE, text, actor, now)
        return TimelineEntry(now, EventKind.NOTE, text, actor)

    # --- past acknowledge: incidents.lifecycle, .merging, .checklist ------------------------

    async def open_manual(
        self, title: str, severity: str, actor: str, service: str | None = None
    ) -> Incident:
        """An incident declared by hand ("Chat not responding"); it pages like any other."""
        return await lifecycle.open_manual(self, title, severity, actor, service)

    async def mitigate(self, incident_id: int, actor: str, note: str | None = None) -> Incident:
        return await lifecycle.mitigate(self, incident_id, actor, note)

    async def reopen(self, incident_id: int, actor: str, reason: str) -> Incident:
        return await lifecycle.reopen(self, incident_id, actor, reason)

    async def assign(
        self, incident_id: int, actor: str, name: str | None, role: Role = Role.ASSIGNEE
    ) -> Incident:
        """Set the assignee (or the incident commander); ``name=None`` clears it."""
        return await lifecycle.assign(self, incident_id, actor, name, role)

    async def set_severity(self, incident_id: int, actor: str, severity: str) -> Incident:
        return await lifecycle.set_severity(self, incident_id, actor, severity)

    async def merge(self, incident_id: int, into_id: int, actor: str) -> Incident:
        """Merge ``incident_id`` into ``into_id``; returns the survivor."""
        return await merging.merge(self, incident_id, into_id, actor)

    async def tick(self, incident_id: int, actor: str, item: str, done: bool = True) -> list[ChecklistItem]:
        """Tick a checklist item (its number or text), or untick it with ``done=False``."""
        return await checklists.tick(self, incident_id, actor, item, done)

    async def checklist(self, incident_id: int) -> list[ChecklistItem]:
        return await checklists.checklist(self, await self.get(incident_id))

    async def add_symptom(self, incident_id: int, text: str) -> None:
        """A dependent check's failure (or recovery), noted on its root cause's incident."""
        await self.add_symptoms([(incident_id, text)])

    async def add_symptoms(self, notes: Sequence[tuple[int, str]]) -> None:
        """``add_symptom`` for many (incident id, text) at once, in order, in one transaction:
        an alert storm whose services' dependency is down notes every alert."""
        if not notes:
            return
        now = self.clock.now()
        rows = [self.event_row(incident_id, EventKind.SYMPTOM, text, now) for incident_id, text in notes]
        async with self.engine.begin() as conn:
            await conn.execute(insert(IncidentEventRow), rows)

    async def record_delivery(
        self, incident_id: int | None, channel: str, event: str, error: str | None
    ) -> None:
        """A timeline line for each page sent or given up on (written in batches)."""
        await self.deliveries.record(incident_id, channel, event, error)

    async def record_runbook_step(self, incident_id: int, actor: str, text: str) -> None:
        """A timeline line for a runbook step run on the incident (``runbooks.runner``)."""
        async with self.engine.begin() as conn:
            await self._event(conn, incident_id, EventKind.RUNBOOK, text, actor, self.clock.now())

    async def record_hold(self, incident_id: int | None, channel: str, reason: str | None) -> None:
        """A timeline line when the outbox holds a page for quiet (once per reason) or sends it
        once the quiet has ended."""
        if incident_id is None:
            return
        now = self.clock.now()
        async with self.engine.begin() as conn:
            if reason is None:
                await self._event(
                    conn, incident_id, EventKind.NOTE, f"quiet ended: paging {channel}", "vigil", now
                )
                return
            text = f"not paged: {reason}"
            last = (
                await conn.execute(
                    select(IncidentEventRow.text)
                    .where(
                        IncidentEventRow.incident_id == incident_id,
                        IncidentEventRow.kind == str(EventKind.SUPPRESSED),
                    )
                    .order_by(IncidentEventRow.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if last != text:
                await self._event(conn, incident_id, EventKind.SUPPRESSED, text, "vigil", now)

    # --- inside a transaction ------------------------------------------------------------

    async def _set_resolved(
        self, conn: AsyncConnection, incident_id: int, actor: str, now: datetime
    ) -> Incident | None:
        """Resolve the incident if it is open; None when it was resolved already (by a
        concurrent change: the update is conditional, so exactly one resolve wins)."""
        changed = await conn.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident_id, IncidentRow.status != str(IncidentStatus.RESOLVED))
            .values(status=str(IncidentStatus.RESOLVED), resolved_at=now, resolved_by=actor)
        )
        if changed.rowcount != 1:
            return None
        await self._event(conn, incident_id, EventKind.RESOLVED, f"resolved by {actor}", actor, now)
        await record_misses(self, conn, now, [incident_id])  # resolved past a target
        incident = await self._get(conn, incident_id)
        await self._page(conn, incident, MessageEvent.RESOLVED, now)
        return incident

    async def _event(
        self,
        conn: AsyncConnection,
        incident_id: int,
        kind: EventKind,
        text: str,
        actor: str | None,
        now: datetime,
    ) -> None:
        await conn.execute(
            insert(IncidentEventRow).values(**self.event_row(incident_id, kind, text, now, actor))
        )

    def event_row(
        self, incident_id: int, kind: EventKind, text: str, now: datetime, actor: str | None = "vigil"
    ) -> dict[str, Any]:
        """One timeline line as a row, its text through the stack file's redactor (every writer
        of the timeline, batched or not, builds its rows here)."""
        return {
            "incident_id": incident_id,
            "at": now,
            "kind": str(kind),
            "text": self.redact(text),
            "actor": actor,
        }

    async def _page(
        self,
        conn: AsyncConnection,
        incident: Incident,
        event: MessageEvent,
        now: datetime,
        *,
        labels: Mapping[str, str] | None = None,
        batch: list[tuple[int | None, list[Message]]] | None = None,
        trigger: str | None = None,
    ) -> None:
        # Acknowledged and resolved notices go to the incident's channels; the outbox sends
        # them only to a channel that got the trigger, and after it. With ``batch``, the
        # messages are added to it for one ``enqueue_many`` of many incidents (``open_many``).
        own = await level_channels(conn, self.stack, incident, event)
        level = self.stack.scheme.get(incident.severity)
        if event is MessageEvent.TRIGGERED and level is not None and not level.pages:
            return  # a level that does not page starts no escalation either
        payload = self.payload(incident, event)
        if labels is not None:
            payload["labels"] = {
                k: self.redact(v) for k, v in labels.items()
            }  # what the outbox judges quiet by
        if event is MessageEvent.TRIGGERED and self.suggest is not None:
            payload["runbooks"] = self.suggest(incident, self.redact(trigger) if trigger else None)
        # The store's id keeps keys unique across stores: a store made afresh restarts incident
        # ids at 1, and a receiver that drops repeated keys would drop its real pages.
        store = await store_id(conn)
        payload["incident_key"] = incident_key(store, incident.id)
        # A trigger starts the incident's escalation; a follow-up stops it and also reaches
        # every contact its escalation paged (oncall.escalation).
        channels = await channels_to_page(
            conn, self.stack, replace(incident, channels=own), event, now, labels
        )
        if not channels:
            return
        # A reopened incident pages again: its messages' keys carry the round.
        rounds = f"-r{incident.reopened}" if incident.reopened else ""
        messages = [
            Message(f"incident-{store}-{incident.id}{rounds}-{event}-{channel}", channel, event, payload)
            for channel in channels
        ]
        if batch is not None:
            batch.append((incident.id, messages))
            return
        await self.queue(conn, incident.id, messages, now)

    async def queue(
        self, conn: AsyncConnection, incident_id: int, messages: Sequence[Message], now: datetime
    ) -> int:
        """Queue an incident's ``messages`` as this stack file's (``store.outbox``); how many were new."""
        stack, expire_after = self.stack_id, self.expire_after
        return await enqueue(
            conn, messages, now=now, expire_after=expire_after, incident_id=incident_id, stack=stack
        )

    def payload(self, incident: Incident, event: MessageEvent) -> dict[str, Any]:
        body = {k: self.redact(v) if isinstance(v, str) else v for k, v in incident.as_dict().items()}
        body["labels"] = {k: self.redact(v) for k, v in incident.labels.items()}
        body.pop("id")
        return {
            "incident_id": incident.id,
            "event": str(event),
            **body,
            "url": f"{self.dashboard_url}/incidents/{incident.id}" if self.dashboard_url else None,
        }


def incident_key(store: str, incident_id: int) -> str:
    """One incident's name across all its messages, for receivers that keep one alert per
    incident (PagerDuty's ``dedup_key``, Opsgenie's ``alias``); unique across stores."""
    return f"vigil-{store}-{incident_id}"
