"""The incident of a failing check: one outage, one page.

The failing checks of one service share one incident (key ``check-group:<service>``): the first
check to reach its threshold opens it and pages; each other check that fails joins it — a line
"api.live also failing (3 times in a row): HTTP 503" on its timeline, no second page. A member
whose severity is higher raises the incident's (and its response target) to its own; one whose
channels the incident does not page yet pages those, once. A check with ``alert: {group:
false}`` keeps incidents of its own (``check:<id>``), as every check had before.

Who belongs to a shared incident is kept in the store as rows (``incidents.membership``), not
remembered and not read back from the timeline: the check that opened it and every check that
joined it, each put on it in the transaction that writes its line, so a restart (or a second
instance) neither forgets a member nor notes it twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, update

from vigil.config.stack import CheckSpec
from vigil.incidents.membership import add_member, any_of, member_ids
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.opening import OpenRequest, open_one
from vigil.incidents.reads import check_incident_key
from vigil.incidents.scheme import SeverityScheme
from vigil.notify.base import MessageEvent
from vigil.probes.base import Result
from vigil.store.tables import IncidentEventRow, IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService

JOINED = " also failing"


def joined_line(check_id: str) -> str:
    """How a member's join line starts: ``api.live also failing``."""
    return f"{check_id}{JOINED}"


def more_urgent(scheme: SeverityScheme, a: str, b: str) -> bool:
    """Whether level ``a`` is more urgent than ``b`` in the stack file's scheme (P1 before P4)."""
    return scheme.rank(a) < scheme.rank(b)


def _labels(spec: CheckSpec) -> dict[str, str]:
    return {"service": spec.service, "check": spec.id, "kind": spec.kind, "alertname": spec.id}


def _times(failures: int) -> str:
    return f"{failures} time{'s' if failures != 1 else ''} in a row"


async def open_or_join(
    incidents: IncidentService, spec: CheckSpec, result: Result, failures: int
) -> Incident | None:
    """Open the incident of a failing check and page, or join its service's open one; the
    incident opened, or None when it joined one (or had one: a check of its own)."""
    policy = spec.config.alert
    if policy is None:
        return None
    key = check_incident_key(spec)
    severity = incidents.stack.level(policy.severity).name
    for _ in range(3):  # an incident resolved between our look and our write: open afresh
        opened = await open_one(
            incidents,
            OpenRequest(
                key=key,
                title=spec.config.description or f"{spec.id} is failing",
                severity=severity,
                service=spec.service,
                check_id=spec.id,
                reason=result.reason,
                channels=policy.notify,
                trigger=f"{spec.id} failed {_times(failures)}: {result.reason}",
                labels=_labels(spec),
            ),
        )
        if opened is not None or not policy.group or await join(incidents, key, spec, result, failures):
            return opened
    return None


async def join(incidents: IncidentService, key: str, spec: CheckSpec, result: Result, failures: int) -> bool:
    """Note ``spec`` on the open incident for ``key`` as one more failing check, raise its
    severity and page the channels it adds; False when no incident is open for ``key``."""
    policy = spec.config.alert
    if policy is None:
        return True
    now = incidents.clock.now()
    async with incidents.engine.begin() as conn:
        row = await incidents._open_row(conn, key)
        if row is None:
            return False
        incident = Incident.from_row(row)
        if not await add_member(conn, incident.id, spec.id, now):
            return True  # on it already: its opener, or joined before a restart or by another instance
        lines = [f"{joined_line(spec.id)} ({_times(failures)}): {result.reason}"]
        changes: dict[str, object] = {}
        severity = incident.severity
        own = incidents.stack.level(policy.severity).name
        if more_urgent(incidents.stack.scheme, own, incident.severity):
            severity = own
            changes["severity"] = own
            target = incidents.stack.response_seconds(own)
            changes["respond_by"] = incident.opened_at + timedelta(seconds=target)
            lines.append(f"severity raised from {incident.severity} to {own} by {spec.id}")
        wanted = policy.notify if policy.notify is not None else incidents.stack.notify.default
        added = [channel for channel in wanted if channel not in incident.channels]
        if added:
            changes["channels"] = [*incident.channels, *added]
        if changes:
            await conn.execute(update(IncidentRow).where(IncidentRow.id == incident.id).values(**changes))
        events = [incidents.event_row(incident.id, EventKind.NOTE, line, now) for line in lines]
        await conn.execute(insert(IncidentEventRow), events)
        if added:
            # Only the channels this member brings: the others were paged when it opened.
            paged = replace(incident, channels=added, severity=severity)
            await incidents._page(
                conn,
                paged,
                MessageEvent.TRIGGERED,
                now,
                labels=_labels(spec),
                trigger=lines[0],
            )
    if changes:  # wakes the outbox for the added channels, and drops cached lists (severity)
        incidents.on_enqueued()
    return True


async def members(incidents: IncidentService, incident: Incident) -> list[str]:
    """The checks on a shared incident: the one that opened it, then each that joined it (and
    those of incidents merged into it)."""
    async with incidents.engine.connect() as conn:
        return await member_ids(conn, incident.id)


async def any_member(incidents: IncidentService, key: str, check_ids: list[str]) -> bool:
    """Whether one of ``check_ids`` is on the open incident for ``key``."""
    async with incidents.engine.connect() as conn:
        row = await incidents._open_row(conn, key)
        return row is not None and await any_of(conn, row.id, check_ids)


async def note_at(incidents: IncidentService, incident_id: int, text: str, at: datetime) -> None:
    """A timeline line dated when it happened, not when it is written (a hold, noted once it ends)."""
    async with incidents.engine.begin() as conn:
        await conn.execute(
            insert(IncidentEventRow).values(**incidents.event_row(incident_id, EventKind.NOTE, text, at))
        )
