"""Status updates: a responder says where the response stands (investigating, identified,
monitoring, resolved), and the incident's channels are told in the stack file's words.

Each update is kept (for the status page to come), put on the timeline and queued in the outbox
in one transaction: after the incident's trigger and before anything later, per channel, as the
outbox keeps every incident's messages in order. A ``resolved`` update resolves an open
incident in that same transaction, through the service's own resolve, so its resolved notice
follows the update. Channels whose kind has no place for an update (PagerDuty) get only that.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.errors import ConflictError
from vigil.incidents.inputs import TEXT_LIMIT, bounded
from vigil.incidents.model import EventKind, Incident, utc
from vigil.incidents.service import IncidentService, incident_key
from vigil.incidents.update_message import UpdateStatus, update_context, update_template
from vigil.notify.base import Message, MessageEvent
from vigil.notify.message_template import TemplateFault
from vigil.notify.registry import CHANNELS
from vigil.store.identity import store_id
from vigil.store.tables import IncidentUpdateRow

log = logging.getLogger("vigil.incidents")
IMPACT_LIMIT = 1_000
MOST_UPDATES = 1_000  # per incident: a script posting in a loop stops here


@dataclass(frozen=True)
class StatusUpdate:
    id: int
    incident_id: int
    status: UpdateStatus
    text: str
    impact: str | None
    message: str  # as the channels got it
    actor: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "status": str(self.status),
            "text": self.text,
            "impact": self.impact,
            "message": self.message,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }


class StatusUpdates:
    def __init__(self, incidents: IncidentService) -> None:
        self.incidents = incidents
        self.template = update_template(incidents.stack.notify.templates.update)
        self.default = update_template(None)
        kinds = {name: c.kind for name, c in incidents.stack.notify.channels.items()}
        # Channels no longer configured are kept: the outbox says why their message failed.
        self.skipped = {name for name, kind in kinds.items() if not CHANNELS[kind].takes_updates}

    async def post(
        self, incident_id: int, status: UpdateStatus, text: str, actor: str, impact: str | None = None
    ) -> StatusUpdate:
        """Keep, note and send an update; ``ConflictError`` for a resolved incident (unless the
        update says ``resolved`` too) or past ``MOST_UPDATES``."""
        service = self.incidents
        text = bounded(text, "an update", TEXT_LIMIT)
        impact = bounded(impact or "", "an impact", IMPACT_LIMIT, required=False) or None
        text, impact = service.redact(text), service.redact(impact) if impact else None
        async with service.engine.connect() as conn:
            incident = await service._get(conn, incident_id)
            count, stated = await self._earlier(conn, incident_id)
        if not incident.is_open and status is not UpdateStatus.RESOLVED:
            raise ConflictError(
                f"incident {incident_id} is resolved; only a resolved update can follow (reopen it first)"
            )
        if count >= MOST_UPDATES:
            raise ConflictError(f"incident {incident_id} has {MOST_UPDATES:,} updates, the most it may have")
        now = service.clock.now()
        payload = service.payload(incident, MessageEvent.UPDATE)
        context = update_context(
            payload, status=status, text=text, impact=impact or stated, actor=actor, at=now
        )
        message = service.redact(await asyncio.to_thread(self._render, context))
        async with service.engine.begin() as conn:
            row = await conn.execute(
                insert(IncidentUpdateRow)
                .values(
                    incident_id=incident_id,
                    status=str(status),
                    text=text,
                    impact=impact,
                    message=message,
                    actor=actor,
                    at=now,
                )
                .returning(IncidentUpdateRow.id)
            )
            update = StatusUpdate(
                int(row.scalar_one()), incident_id, status, text, impact, message, actor, now
            )
            line = f"{status}: {text}" + (f" (impact: {impact})" if impact else "")
            await service._event(conn, incident_id, EventKind.UPDATE, line, actor, now)
            await self._send(conn, incident, update, payload, now)
            if status is UpdateStatus.RESOLVED and incident.is_open:
                await service._set_resolved(conn, incident_id, actor, now)
        service.on_enqueued()
        return update

    async def list(self, incident_id: int) -> list[StatusUpdate]:
        """The incident's updates, oldest first; ``NotFoundError`` for an unknown incident."""
        query = (
            select(IncidentUpdateRow)
            .where(IncidentUpdateRow.incident_id == incident_id)
            .order_by(IncidentUpdateRow.id)
            .limit(MOST_UPDATES)
        )
        async with self.incidents.engine.connect() as conn:
            await self.incidents._get(conn, incident_id)
            rows = (await conn.execute(query)).all()
        return [
            StatusUpdate(
                r.id, r.incident_id, UpdateStatus(r.status), r.text, r.impact, r.message, r.actor, utc(r.at)
            )
            for r in rows
        ]

    async def _earlier(self, conn: AsyncConnection, incident_id: int) -> tuple[int, str | None]:
        """How many updates the incident has, and the latest impact one of them stated."""
        count = (
            await conn.execute(select(func.count()).where(IncidentUpdateRow.incident_id == incident_id))
        ).scalar_one()
        stated = (
            await conn.execute(
                select(IncidentUpdateRow.impact)
                .where(IncidentUpdateRow.incident_id == incident_id, IncidentUpdateRow.impact.is_not(None))
                .order_by(IncidentUpdateRow.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return int(count), stated

    def _render(self, context: dict[str, Any]) -> str:
        try:
            return self.template.render(context)
        except TemplateFault as err:
            # An update must go out in the middle of an incident: in the runbooks' words, then.
            log.warning("%s; the update is sent in the default wording", err)
            return self.default.render(context)

    async def _send(
        self,
        conn: AsyncConnection,
        incident: Incident,
        update: StatusUpdate,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        store = await store_id(conn)
        body = {
            **payload,
            "incident_key": incident_key(store, incident.id),
            "update": update.as_dict(),
            "message": update.message,
        }
        messages = [
            Message(
                f"incident-{store}-{incident.id}-update-{update.id}-{channel}",
                channel,
                MessageEvent.UPDATE,
                body,
            )
            for channel in incident.channels
            if channel not in self.skipped
        ]
        await self.incidents.queue(conn, incident.id, messages, now)
