"""The severity's checklist on an incident: each item ticked (or unticked) by someone, on the
timeline. The items are the level's (``severities: {P1: {checklist: […]}}``); a tick is a row,
unique per incident and item, so two responders ticking the same item at once tick it once.
Ticking stays possible after the incident is resolved: the post-mortem comes after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vigil.errors import ConflictError, InputError
from vigil.incidents.lifecycle import shown
from vigil.incidents.model import EventKind, Incident, iso
from vigil.store.tables import ChecklistTickRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService


@dataclass(frozen=True)
class ChecklistItem:
    number: int  # 1-based, as the page and the CLI show it
    text: str
    done_by: str | None = None
    done_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_by is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "item": self.text,
            "done": self.done,
            "done_by": self.done_by,
            "done_at": iso(self.done_at),
        }


def items_of(incidents: IncidentService, incident: Incident) -> tuple[str, ...]:
    level = incidents.stack.scheme.get(incident.severity)
    return level.checklist if level is not None else ()


async def checklist(incidents: IncidentService, incident: Incident) -> list[ChecklistItem]:
    """The level's items with their ticks; an item ticked under an earlier severity stays listed."""
    ticks = await incidents.ticks(incident.id)
    items = list(items_of(incidents, incident))
    items += sorted(set(ticks) - set(items))
    return [ChecklistItem(n, text, *ticks.get(text, (None, None))) for n, text in enumerate(items, start=1)]


def _item(incidents: IncidentService, incident: Incident, listed: list[ChecklistItem], item: str) -> str:
    given = item.strip()
    if given.isdigit() and len(given) <= 3 and 1 <= int(given) <= len(listed):
        return listed[int(given) - 1].text
    for entry in listed:
        if entry.text.casefold() == given.casefold():
            return entry.text
    has = "; ".join(f"{e.number}. {e.text}" for e in listed) or "no items"
    raise InputError(
        f"no checklist item {shown(item)} on incident {incident.id}; its {incident.severity} checklist has: {has}"
    )


async def tick(
    incidents: IncidentService, incident_id: int, actor: str, item: str, done: bool = True
) -> list[ChecklistItem]:
    """Tick ``item`` (its number or its text) or, with ``done=False``, untick it; 409 when it is
    already so. Returns the checklist after."""
    incident = await incidents.get(incident_id)
    text = _item(incidents, incident, await checklist(incidents, incident), item)
    async with incidents.engine.begin() as conn:
        now = incidents.clock.now()
        if done:
            upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            statement = (
                upsert(ChecklistTickRow)
                .values(incident_id=incident_id, item=text, done_by=actor, done_at=now)
                .on_conflict_do_nothing()
                .returning(ChecklistTickRow.id)
            )
            changed = (await conn.execute(statement)).first() is not None
        else:
            gone = await conn.execute(
                delete(ChecklistTickRow).where(
                    ChecklistTickRow.incident_id == incident_id, ChecklistTickRow.item == text
                )
            )
            changed = gone.rowcount == 1
        if not changed:
            raise ConflictError(
                f"{text!r} is {'ticked' if done else 'not ticked'} already on incident {incident_id}"
            )
        line = f"{'ticked' if done else 'unticked'} {text!r}"
        await incidents._event(conn, incident_id, EventKind.CHECKLIST, line, actor, now)
    incidents.on_enqueued()
    return await checklist(incidents, incident)
