"""Resolving many incidents at once: the resolved notices of an alert storm in one transaction.

``IncidentService.recover`` resolves one key per transaction; when Alertmanager sends a group of
two thousand resolved alerts, that is two thousand commits. ``recover_many`` gives each the same
timeline lines and pages, a few hundred to a transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.incidents.model import EventKind, Incident, utc
from vigil.incidents.reads import OPEN, merged_open
from vigil.incidents.severity import IncidentStatus
from vigil.incidents.targets import record_misses
from vigil.notify.base import MessageEvent
from vigil.store.tables import IncidentEventRow, IncidentKeyRow, IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService

CHUNK = 200
ACTOR = "vigil"
# Written in each batch's transaction: what must commit with the resolving (an alert's state).
Within = Callable[[AsyncConnection], Awaitable[None]]


async def recover_many(
    incidents: IncidentService, recoveries: Sequence[tuple[str, str]], within: Within | None = None
) -> list[Incident | None]:
    """What ``recover(key, text)`` answers for each pair, in order; a key given twice resolves once."""
    answers: list[Incident | None] = []
    for start in range(0, len(recoveries), CHUNK):
        answers += await _recover_batch(incidents, recoveries[start : start + CHUNK], within)
    if any(answers):
        incidents.on_enqueued()
    return answers


async def _recover_batch(
    incidents: IncidentService, batch: Sequence[tuple[str, str]], within: Within | None
) -> list[Incident | None]:
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        found = await conn.execute(
            select(IncidentRow.key, IncidentRow.id, IncidentRow.opened_at).where(
                IncidentRow.key.in_(sorted({key for key, _ in batch})),
                IncidentRow.status.in_([str(s) for s in OPEN]),
            )
        )
        open_rows = {key: (incident_id, utc(opened)) for key, incident_id, opened in found.all()}
        if incidents.flaps is not None:  # a flapping key's incident stays open until it settles (flapping.py)
            held, lines = await incidents.flaps.changed(conn, [key for key, _ in batch], False, now)
            await incidents.flaps.note(conn, lines, now)
            open_rows = {key: row for key, row in open_rows.items() if key not in held}
        # Conditional, as ``recover`` is: a resolve by hand that committed first wins.
        changed = await conn.execute(
            update(IncidentRow)
            .where(
                IncidentRow.id.in_([incident_id for incident_id, _ in open_rows.values()]),
                IncidentRow.status != str(IncidentStatus.RESOLVED),
            )
            .values(status=str(IncidentStatus.RESOLVED), resolved_at=now, resolved_by=ACTOR)
            .returning(*IncidentRow.__table__.columns)
        )
        resolved = {row.key: Incident.from_row(row) for row in changed.all()}  # type: ignore[arg-type]
        events: list[dict[str, Any]] = []
        # A key merged into an open incident: its recovery is noted there; the survivor
        # resolves when its own cause goes away.
        gone = sorted({key for key, _ in batch} - set(open_rows))
        merged = (
            await conn.execute(merged_open(select(IncidentKeyRow.key, IncidentRow.id), gone))
            if gone
            else None
        )
        survivors = dict(merged.all()) if merged is not None else {}
        answers: list[Incident | None] = []
        for key, text in batch:
            incident = resolved.pop(key, None)
            answers.append(incident)
            if incident is None:
                if key in survivors:
                    events.append(
                        incidents.event_row(survivors.pop(key), EventKind.NOTE, f"{text} (merged here)", now)
                    )
                continue
            took = _span(now - open_rows[key][1])
            for kind, line in (
                (EventKind.RECOVERED, f"{text} after {took}"),
                (EventKind.RESOLVED, f"resolved by {ACTOR}"),
            ):
                events.append(incidents.event_row(incident.id, kind, line, now, ACTOR))
        if events:
            await conn.execute(insert(IncidentEventRow), events)
        if resolved_ids := [i.id for i in answers if i is not None]:
            await record_misses(incidents, conn, now, resolved_ids)  # resolved past a target
        for incident in answers:
            if incident is not None:
                await incidents._page(conn, incident, MessageEvent.RESOLVED, now)
        if within is not None:
            await within(conn)
    return answers


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
