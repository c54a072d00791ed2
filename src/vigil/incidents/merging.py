"""Merging two incidents of one outage: the duplicate is resolved "merged into #N", keeps its
timeline and links to the survivor, and its key (and any merged into it before) routes there:
while the survivor is open, a later failure of that key joins it instead of opening anew, and
its recovery is noted there (``reads.merged_open``, used by opening and recovery). The
duplicate's checks become members of the survivor too, so one already on it is not noted again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, update

from vigil.errors import ConflictError
from vigil.incidents.lifecycle import change
from vigil.incidents.membership import move_members
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.reads import OPEN
from vigil.incidents.severity import IncidentStatus
from vigil.notify.base import MessageEvent
from vigil.store.tables import IncidentKeyRow, IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService


async def merge(incidents: IncidentService, duplicate_id: int, into_id: int, actor: str) -> Incident:
    """Merge ``duplicate_id`` into ``into_id``; returns the survivor. Both must be open."""
    if duplicate_id == into_id:
        raise ConflictError(f"incident {duplicate_id} cannot be merged into itself")
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        # Both rows held (in id order, so two merges of the same pair cannot deadlock) by a
        # write that changes nothing: a resolve racing this merge waits for it or wins outright.
        held: dict[int, Incident] = {}
        for incident_id in sorted((duplicate_id, into_id)):
            held[incident_id] = await change(
                incidents,
                conn,
                incident_id,
                OPEN,
                {"status": IncidentRow.status},
                lambda i: f"incident {i.id} is resolved; only open incidents can be merged",
            )
        survivor = held[into_id]
        duplicate = await change(
            incidents,
            conn,
            duplicate_id,
            OPEN,
            {
                "status": str(IncidentStatus.RESOLVED),
                "resolved_at": now,
                "resolved_by": actor,
                "merged_into": into_id,
            },
            lambda i: f"incident {duplicate_id} is resolved already; only an open incident can be merged",
        )
        await conn.execute(
            update(IncidentKeyRow)
            .where(IncidentKeyRow.incident_id == duplicate_id)
            .values(incident_id=into_id)
        )
        await conn.execute(
            insert(IncidentKeyRow).values(
                key=duplicate.key, incident_id=into_id, merged_from=duplicate_id, created_at=now
            )
        )
        await move_members(conn, duplicate_id, into_id, now)
        lines = (
            (duplicate_id, EventKind.MERGED, f"merged into #{into_id} ({survivor.title}) by {actor}"),
            (duplicate_id, EventKind.RESOLVED, f"resolved by {actor}: merged into #{into_id}"),
            (into_id, EventKind.MERGED, f"#{duplicate_id} ({duplicate.title}) merged here by {actor}"),
        )
        for incident_id, kind, text in lines:
            await incidents._event(conn, incident_id, kind, text, actor, now)
        # Whoever was paged for the duplicate hears it is over, and where it went.
        await incidents._page(conn, duplicate, MessageEvent.RESOLVED, now)
    incidents.on_enqueued()
    return survivor
