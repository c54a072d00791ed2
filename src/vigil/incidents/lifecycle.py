"""The incident lifecycle past acknowledge: mitigate, reopen, assignee and commander, severity
changes, and incidents opened by hand.

Every change is a conditional ``UPDATE … WHERE status IN (…)`` whose row count is checked, in
one transaction with its timeline line and pages: of two responders racing, one wins and the
other gets a ``ConflictError`` (409) saying what the incident is now. A change the state does
not allow (mitigating a resolved incident, reopening an open one) is refused the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.errors import ConflictError, InputError
from vigil.incidents.inputs import NAME_LIMIT, TITLE_LIMIT, bounded
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.opening import OpenRequest, open_one
from vigil.incidents.reads import OPEN
from vigil.incidents.scheme import Level
from vigil.incidents.severity import IncidentStatus
from vigil.incidents.targets import record_misses
from vigil.notify.base import MessageEvent
from vigil.store.tables import IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted back in an error, cut short: a refused input is never echoed whole."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


class Role(StrEnum):
    ASSIGNEE = "assignee"
    COMMANDER = "commander"


async def change(
    incidents: IncidentService,
    conn: AsyncConnection,
    incident_id: int,
    allowed: Collection[IncidentStatus],
    values: dict[str, Any],
    refusal: Callable[[Incident], str],
    *conditions: Any,
) -> Incident:
    """Apply ``values`` if the incident's status is one of ``allowed`` (and ``conditions`` hold);
    ``ConflictError(refusal(incident))`` otherwise, ``NotFoundError`` for no such incident."""
    changed = await conn.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id, IncidentRow.status.in_([str(s) for s in allowed]), *conditions)
        .values(**values)
    )
    if changed.rowcount != 1:
        raise ConflictError(refusal(await incidents._get(conn, incident_id)))
    return await incidents._get(conn, incident_id)


def level_named(incidents: IncidentService, severity: str) -> Level:
    """The scheme's level called ``severity`` (any case); ``InputError`` listing the levels."""
    scheme = incidents.stack.scheme
    level = scheme.get(severity) or next(
        (lv for lv in scheme.levels if lv.name.casefold() == severity.casefold()), None
    )
    if level is None:
        raise InputError(f"unknown severity {shown(severity)}; the scheme has {', '.join(scheme.names)}")
    return level


async def open_manual(
    incidents: IncidentService, title: str, severity: str, actor: str, service: str | None = None
) -> Incident:
    """An incident someone declares by hand ("Chat not responding"): pages like any other."""
    title = bounded(title, "an incident's title", TITLE_LIMIT)
    level = level_named(incidents, severity)
    if service is not None and service not in incidents.stack.services:
        known = ", ".join(list(incidents.stack.services)[:20]) or "none"
        raise InputError(f"unknown service {shown(service)}; the stack file's services are: {known}")
    request = OpenRequest(
        key=f"manual:{uuid.uuid4().hex}",
        title=title,
        severity=level.name,
        service=service or "",
        check_id=None,
        reason=title,
        channels=None,
        trigger=f"opened by hand by {actor}: {title}",
        labels={"source": "manual", **({"service": service} if service else {})},
    )
    opened = await open_one(incidents, request)
    if opened is None:  # a fresh key cannot be open already; a store refusing it is a conflict
        raise ConflictError("the incident could not be opened; try again")
    return opened


async def mitigate(incidents: IncidentService, incident_id: int, actor: str, note: str | None) -> Incident:
    """The impact is over though the cause may not be fixed; acknowledges it too if nobody had."""
    note = bounded(note, "a note", required=False) if note else None
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        values = {
            "status": str(IncidentStatus.MITIGATED),
            "mitigated_at": now,
            "mitigated_by": actor,
            "acknowledged_at": func.coalesce(IncidentRow.acknowledged_at, now),
            "acknowledged_by": func.coalesce(IncidentRow.acknowledged_by, actor),
        }
        allowed = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)
        incident = await change(
            incidents, conn, incident_id, allowed, values, lambda i: _refused(i, "mitigated", allowed)
        )
        if note:
            await incidents._event(conn, incident_id, EventKind.NOTE, note, actor, now)
        await incidents._event(conn, incident_id, EventKind.MITIGATED, f"mitigated by {actor}", actor, now)
        await record_misses(incidents, conn, now, [incident_id])
    incidents.on_enqueued()
    return incident


async def reopen(incidents: IncidentService, incident_id: int, actor: str, reason: str) -> Incident:
    """A resolved incident back to triggered, with who and why; it pages again and its targets
    count from now."""
    reason = bounded(reason, "a reason")
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        before = await incidents._get(conn, incident_id)
        level = incidents.stack.scheme.get(before.severity) or incidents.stack.scheme.default
        values: dict[str, Any] = {
            "status": str(IncidentStatus.TRIGGERED),
            "reopened": IncidentRow.reopened + 1,
            "respond_by": now + timedelta(seconds=level.acknowledge),
            "resolve_by": now + timedelta(seconds=level.resolve) if level.resolve is not None else None,
        }
        for cleared in ("acknowledged", "mitigated", "resolved"):
            values |= {f"{cleared}_at": None, f"{cleared}_by": None}
        try:
            incident = await change(
                incidents,
                conn,
                incident_id,
                [IncidentStatus.RESOLVED],
                values,
                _not_reopened,
                IncidentRow.merged_into.is_(None),
            )
        except IntegrityError:
            raise ConflictError(
                f"incident {incident_id} cannot be reopened: another incident is open for {before.key}"
            ) from None
        await incidents._event(
            conn, incident_id, EventKind.REOPENED, f"reopened by {actor}: {reason}", actor, now
        )
        await incidents._page(conn, incident, MessageEvent.TRIGGERED, now, labels=quiet_labels(incident))
    incidents.on_enqueued()
    return incident


async def assign(
    incidents: IncidentService, incident_id: int, actor: str, name: str | None, role: Role
) -> Incident:
    """Set (or with None, clear) the incident's assignee or its incident commander."""
    name = bounded(name, "a name", NAME_LIMIT) if name is not None else None
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        incident = await change(
            incidents,
            conn,
            incident_id,
            OPEN,
            {str(role): name},
            lambda i: _refused(i, f"given {'an assignee' if role is Role.ASSIGNEE else 'a commander'}", OPEN),
        )
        what = "assignee" if role is Role.ASSIGNEE else "incident commander"
        text = f"{what} {name} (set by {actor})" if name else f"{what} cleared by {actor}"
        await incidents._event(conn, incident_id, EventKind.ASSIGNED, text, actor, now)
    incidents.on_enqueued()
    return incident


async def set_severity(incidents: IncidentService, incident_id: int, actor: str, severity: str) -> Incident:
    """Move the incident to another level: its targets follow (counted from the same start),
    and raised to a level that pages, it pages now if it had not."""
    level = level_named(incidents, severity)
    scheme = incidents.stack.scheme
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        before = await incidents._get(conn, incident_id)
        if before.severity == level.name:
            raise ConflictError(f"incident {incident_id} is {level.name} already")
        old = scheme.get(before.severity)
        start = before.respond_by - timedelta(seconds=old.acknowledge) if old else before.opened_at
        values = {
            "severity": level.name,
            "respond_by": start + timedelta(seconds=level.acknowledge),
            "resolve_by": start + timedelta(seconds=level.resolve) if level.resolve is not None else None,
        }
        incident = await change(
            incidents,
            conn,
            incident_id,
            OPEN,
            values,
            lambda i: _refused(i, "given another severity", OPEN, i.severity != before.severity),
            IncidentRow.severity == before.severity,
        )
        text = f"severity {before.severity} → {level.name} by {actor}"
        await incidents._event(conn, incident_id, EventKind.SEVERITY, text, actor, now)
        if level.pages and old is not None and not old.pages:
            await incidents._page(conn, incident, MessageEvent.TRIGGERED, now, labels=quiet_labels(incident))
        await record_misses(incidents, conn, now, [incident_id])
    incidents.on_enqueued()
    return incident


def _refused(incident: Incident, done: str, allowed: Collection[IncidentStatus], raced: bool = False) -> str:
    if raced:
        return f"incident {incident.id} was changed meanwhile (it is {incident.severity} now); try again"
    if done == str(incident.status):
        return f"incident {incident.id} is {done} already"
    if incident.status in allowed:
        return f"incident {incident.id} changed meanwhile; try again"
    if incident.status is IncidentStatus.RESOLVED:
        return f"incident {incident.id} is resolved; only an open incident can be {done}"
    shown = " or ".join(str(s) for s in allowed)
    return f"incident {incident.id} is {incident.status}; only a {shown} one can be {done}"


def _not_reopened(incident: Incident) -> str:
    if incident.merged_into is not None:
        return f"incident {incident.id} was merged into #{incident.merged_into}; reopen that one instead"
    return f"incident {incident.id} is {incident.status}; only a resolved incident can be reopened"


def quiet_labels(incident: Incident) -> dict[str, str]:
    """What the outbox judges a trigger's quiet by, as ``open`` gives it."""
    return {**incident.labels, "service": incident.service, "severity": incident.severity}
