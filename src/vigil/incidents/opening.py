"""Opening many incidents at once: an alert storm's groups in one transaction.

A rule cycle in which hundreds of groups start firing used to open each group's incident in a
transaction of its own, and on SQLite each commit waits for the disk. ``open_many`` opens or
joins a batch of groups in one transaction with the same timeline lines and pages as
``IncidentService.open`` gives each, so a storm costs a few commits instead of one per group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.incidents.membership import add_openers
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.reads import OPEN, merged_open
from vigil.incidents.severity import IncidentStatus
from vigil.notify.base import Message, MessageEvent
from vigil.store.outbox import enqueue_many
from vigil.store.tables import IncidentEventRow, IncidentKeyRow, IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService

# Statements per transaction stay bounded (and a rolled-back batch small) however big the storm.
CHUNK = 200
# An incident keeps at most this many labels, each value cut to VALUE_LIMIT characters.
MAX_LABELS = 100
VALUE_LIMIT = 1000
# Written in a batch's transaction with each request and the id of the incident it opened or
# joined: what must commit with the opening or not at all (the alerts' state, alert_states.py).
Within = Callable[[AsyncConnection, Sequence[tuple["OpenRequest", int]]], Awaitable[None]]


@dataclass(frozen=True)
class OpenRequest:
    """The arguments of one ``IncidentService.open``, for ``open_many``."""

    key: str
    title: str
    severity: str  # a level's name
    service: str
    check_id: str | None
    reason: str | None
    channels: list[str] | None
    trigger: str
    labels: Mapping[str, str] | None = None
    also: Sequence[str] = ()
    join: bool = False


async def open_many(
    incidents: IncidentService,
    requests: Sequence[OpenRequest],
    chunk: int = CHUNK,
    within: Within | None = None,
) -> list[Incident | None]:
    """What ``open`` answers for each request, in order: requests are taken as if opened one
    after another (a later request for a key opened by an earlier one joins it), ``chunk`` to
    a transaction."""
    opened: list[Incident | None] = []
    for start in range(0, len(requests), chunk):
        batch = requests[start : start + chunk]
        try:
            opened += await _open_batch(incidents, batch, within)
        except IntegrityError:
            # Another instance opened one of these keys between our look-up and our insert;
            # the batch rolled back whole, so open its groups one by one.
            opened += [await open_one(incidents, r, within) for r in batch]
    return opened


async def open_one(
    incidents: IncidentService, request: OpenRequest, within: Within | None = None
) -> Incident | None:
    """``open_many`` of one request: the incident it opened, or None when one was open."""
    try:
        [answer] = await _open_batch(incidents, [request], within)
    except IntegrityError:
        return None  # another instance opened it between our look-up and our insert
    return answer


async def _open_batch(
    incidents: IncidentService, batch: Sequence[OpenRequest], within: Within | None
) -> list[Incident | None]:
    now = incidents.clock.now()
    quiet = incidents.quiet
    shown = [{**(r.labels or {}), "service": r.service, "severity": str(r.severity)} for r in batch]
    # Asked before the transaction, as ``open`` does: quiet reads the store on its own.
    reasons = [await quiet.reason(labels, now) if quiet else None for labels in shown]
    answers: list[Incident | None] = []
    events: list[dict[str, Any]] = []
    pages: list[tuple[int | None, list[Message]]] = []

    def event(incident_id: int, kind: EventKind, text: str) -> None:
        events.append(incidents.event_row(incident_id, kind, text, now))

    async with incidents.engine.begin() as conn:
        keys = sorted({r.key for r in batch})
        found = await conn.execute(
            select(IncidentRow.key, IncidentRow.id).where(
                IncidentRow.key.in_(keys), IncidentRow.status.in_([str(s) for s in OPEN])
            )
        )
        open_ids: dict[str, int] = {key: incident_id for key, incident_id in found.all()}
        # A key whose incident was merged into one still open joins that one.
        merged = await conn.execute(merged_open(select(IncidentKeyRow.key, IncidentRow.id), keys))
        for key, incident_id in merged.all():
            open_ids.setdefault(key, incident_id)
        # The first request for a key no incident is open for opens one; the rest join.
        fresh: dict[str, OpenRequest] = {}
        for request in batch:
            if request.key not in open_ids:
                fresh.setdefault(request.key, request)
        created: dict[str, Incident] = {}
        if fresh:
            rows = await conn.execute(
                insert(IncidentRow).returning(*IncidentRow.__table__.columns, sort_by_parameter_order=True),
                [_row(incidents, r, now) for r in fresh.values()],
            )
            for row in rows.all():
                created[row.key] = Incident.from_row(row)  # type: ignore[arg-type]
            await add_openers(conn, [(i.id, i.check) for i in created.values() if i.check], now)
        for request, labels, reason in zip(batch, shown, reasons, strict=True):
            incident = created.get(request.key)
            if incident is None or request is not fresh[request.key]:
                target = open_ids.get(request.key) or created[request.key].id
                for text in (request.trigger, *request.also) if request.join else ():
                    event(target, EventKind.NOTE, f"also {text}")
                answers.append(None)
                continue
            event(incident.id, EventKind.TRIGGERED, request.trigger)
            for text in request.also:
                event(incident.id, EventKind.NOTE, f"also {text}")
            if reason:
                event(incident.id, EventKind.SUPPRESSED, f"not paged: {reason}")
            level = incidents.stack.scheme.get(incident.severity)
            if level is not None and not level.pages:
                event(incident.id, EventKind.NOTE, f"not paged: {level.name} does not page")
            await incidents._page(
                conn,
                incident,
                MessageEvent.TRIGGERED,
                now,
                labels=labels,
                batch=pages,
                trigger=request.trigger,
            )
            answers.append(incident)
        if incidents.flaps is not None:  # a fire is a change; a flapping key's trigger is held (flapping.py)
            _, lines = await incidents.flaps.changed(conn, [r.key for r in batch], True, now)
            for key, text in lines.items():
                event(open_ids.get(key) or created[key].id, EventKind.FLAPPING, text)
        if events:  # per incident in the order ``open`` writes them: the timeline sorts by id
            await conn.execute(insert(IncidentEventRow), events)
        await enqueue_many(
            conn, pages, now=now, expire_after=incidents.expire_after, stack=incidents.stack_id
        )
        if within is not None:  # each request with the incident it opened or joined
            await within(conn, [(r, open_ids.get(r.key) or created[r.key].id) for r in batch])
    if any(answers):
        incidents.on_enqueued()
    return answers


def _row(incidents: IncidentService, request: OpenRequest, now: datetime) -> dict[str, Any]:
    level = incidents.stack.level(request.severity)
    return {
        "key": request.key,
        "title": request.title,
        "status": str(IncidentStatus.TRIGGERED),
        "severity": level.name,
        "service": request.service,
        "check_id": request.check_id,
        "reason": request.reason,
        "channels": list(
            request.channels if request.channels is not None else incidents.stack.notify.default
        ),
        "opened_at": now,
        "respond_by": now + timedelta(seconds=level.acknowledge),
        "resolve_by": now + timedelta(seconds=level.resolve) if level.resolve is not None else None,
        "labels": stored_labels(incidents.redact, request.labels or {}),
        "reopened": 0,
        "stack": incidents.stack_id,
    }


def stored_labels(redact: Callable[[str], str], labels: Mapping[str, str]) -> dict[str, str]:
    """An incident's labels as stored and shown: bounded in count and length, values redacted."""
    kept = sorted(labels.items())[:MAX_LABELS]
    return {str(k)[:200]: redact(str(v))[:VALUE_LIMIT] for k, v in kept}
