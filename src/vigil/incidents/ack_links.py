"""Acknowledge links: every page carries one, and it acknowledges its incident for whoever was
paged, with no sign-in and no other power.

A link is ``/ack/<token>``, the token 32 random bytes made as the page leaves (each attempt
gets its own); only its SHA-256 is stored, with the incident, whom it acknowledges for, and
until when (``LINK_AGE``). It works once: the first acknowledgement spends it; a spent, expired
or unknown token, or an incident no longer triggered, is refused and changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock
from vigil.errors import ConflictError, ForbiddenError, NotFoundError
from vigil.incidents.model import Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.notify.base import Message, MessageEvent
from vigil.oncall.contacts import person_of
from vigil.store.outbox import OutboxEntry
from vigil.store.tables import AckLinkRow

PREFIX = "vga_"
LINK_AGE = timedelta(hours=24)
MAX_TOKEN = 100  # characters: a real token is 47; anything longer is refused unread
FORGED = "this acknowledge link is not one Vigil sent; acknowledge from the dashboard instead"


@dataclass(frozen=True)
class AckLink:
    """A valid, unspent link: the incident it acknowledges, for whom, and until when."""

    incident: Incident
    actor: str
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_for(entry: OutboxEntry) -> str:
    """Whom a page's link acknowledges for: the person paged, or whoever reads the channel."""
    named = entry.payload.get("ack_as")
    if isinstance(named, str) and named:
        return named
    return person_of(entry.channel) or f"someone on {entry.channel}"


class AckLinks:
    def __init__(
        self,
        engine: AsyncEngine,
        incidents: IncidentService,
        clock: Clock,
        base_url: str = "",
        *,
        age: timedelta = LINK_AGE,
    ) -> None:
        self.engine = engine
        self.incidents = incidents
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.age = age

    async def attach(self, entries: Sequence[OutboxEntry]) -> dict[int, Message]:
        """The messages pages leave as, by row id: each payload with a fresh link (``ack_url``),
        all issued in one transaction. Other messages are not in the answer: they leave as
        queued. The link lives only in what is sent, never in the outbox."""
        pages = [e for e in entries if e.event == MessageEvent.TRIGGERED and e.incident_id is not None]
        if not pages:
            return {}
        tokens = [PREFIX + secrets.token_urlsafe(32) for _ in pages]
        await self._store([(e.incident_id or 0, actor_for(e)) for e in pages], tokens)
        return {
            entry.id: Message(
                entry.key,
                entry.channel,
                MessageEvent.TRIGGERED,
                {**entry.payload, "ack_url": f"{self.base_url}/ack/{token}"},
            )
            for entry, token in zip(pages, tokens, strict=True)
        }

    async def issue(self, incident_id: int, actor: str) -> str:
        """A new link's token for ``actor`` on ``incident_id``; only its hash is kept."""
        token = PREFIX + secrets.token_urlsafe(32)
        await self._store([(incident_id, actor)], [token])
        return token

    async def _store(self, whom: Sequence[tuple[int, str]], tokens: Sequence[str]) -> None:
        now = self.clock.now()
        rows = [
            {
                "token_hash": digest(token),
                "incident_id": incident_id,
                "actor": actor[:200],
                "created_at": now,
                "expires_at": now + self.age,
            }
            for (incident_id, actor), token in zip(whom, tokens, strict=True)
        ]
        async with self.engine.begin() as conn:
            await conn.execute(insert(AckLinkRow), rows)

    async def look(self, token: str) -> AckLink:
        """The link ``token`` is, if it may still acknowledge; else ForbiddenError (unknown or
        expired) or ConflictError (spent, or its incident is no longer triggered)."""
        row = await self._row(token)
        try:
            incident = await self.incidents.get(row.incident_id)
        except NotFoundError:
            raise ForbiddenError(FORGED) from None
        if incident.status is IncidentStatus.RESOLVED:
            raise ConflictError(f"incident {incident.id} is resolved; there is nothing left to acknowledge")
        if incident.status is not IncidentStatus.TRIGGERED:
            raise ConflictError(
                f"incident {incident.id} is {incident.status} already"
                + (f" (by {incident.acknowledged_by})" if incident.acknowledged_by else "")
            )
        return AckLink(incident, row.actor, row.expires_at)

    async def redeem(self, token: str) -> Incident:
        """Acknowledge the link's incident for its person and spend the link; refused as
        ``look`` refuses, changing nothing."""
        link = await self.look(token)
        now = self.clock.now()
        async with self.engine.begin() as conn:
            spent = await conn.execute(
                update(AckLinkRow)
                .where(AckLinkRow.token_hash == digest(token), AckLinkRow.used_at.is_(None))
                .values(used_at=now)
            )
        if spent.rowcount != 1:
            raise ConflictError("this acknowledge link was used already (a link acknowledges once)")
        try:
            return await self.incidents.acknowledge(link.incident.id, link.actor)
        except ConflictError:
            # Acknowledged or resolved by someone else in between: the link is not spent on that.
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(AckLinkRow).where(AckLinkRow.token_hash == digest(token)).values(used_at=None)
                )
            raise

    async def _row(self, token: str) -> AckLinkRow:
        if not token.startswith(PREFIX) or len(token) > MAX_TOKEN:
            raise ForbiddenError(FORGED)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(AckLinkRow).where(AckLinkRow.token_hash == digest(token)))
            ).first()
        if row is None:
            raise ForbiddenError(FORGED)
        if row.used_at is not None:
            raise ConflictError(
                f"this acknowledge link was used already, at {row.used_at:%Y-%m-%d %H:%M} UTC "
                "(a link acknowledges once)"
            )
        if row.expires_at <= self.clock.now():
            raise ForbiddenError(
                f"this acknowledge link expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; "
                "acknowledge from the dashboard instead"
            )
        return row  # type: ignore[return-value]
