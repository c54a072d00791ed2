"""What a notification is and the one interface every channel kind implements.

A ``Message`` is rendered once, when the outbox row is written, and stored as its payload;
channels only deliver it. A channel raises ``DeliveryError`` and says whether trying again
could help (a 503 could; a 404 or a malformed URL could not).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from vigil.config.notify import ChannelConfig
from vigil.errors import VigilError

MAX_RUNBOOKS = 3  # suggestions a page names; the incident page shows them all


class MessageEvent(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    UPDATE = "update"  # a status update posted by a responder (``incidents.updates``)
    GROUP = "group"  # the messages of one group window to one channel, sent as one (``notify.grouping``)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    EXPIRED = "expired"
    FAILED = "failed"  # a permanent error: retrying cannot help
    HELD = "held"  # a page kept back while quiet (a silence, a maintenance window) holds
    DROPPED = "dropped"  # never to be sent: its incident ended while held, or its trigger never went out


@dataclass(frozen=True)
class Message:
    """One message for one channel. ``payload`` is the webhook body; ``key`` its idempotency key."""

    key: str
    channel: str
    event: MessageEvent
    payload: Mapping[str, Any]

    @property
    def title(self) -> str:
        p = self.payload
        if self.event is MessageEvent.GROUP:
            return str(p.get("title", ""))
        return f"[{p.get('severity', '')} {str(self.event).upper()}] {p.get('title', '')}".strip()

    @property
    def body(self) -> str:
        p = self.payload
        if isinstance(p.get("message"), str):  # rendered already: a status update, a group
            return str(p["message"])
        lines = [f"{p.get('check') or p.get('service')}: {p.get('reason') or 'no reason given'}"]
        if p.get("url"):
            lines.append(str(p["url"]))
        # The acknowledge link, added as a page is sent (incidents.ack_links), comes last.
        link = [f"Acknowledge: {p['ack_url']}"] if p.get("ack_url") else []
        return "\n".join(lines + self.runbooks + link)

    @property
    def runbooks(self) -> list[str]:
        """The runbook sections a trigger suggests, a line each: ``Runbook: file#slug — Title``."""
        found = self.payload.get("runbooks")
        if not isinstance(found, list):
            return []
        return [
            f"Runbook: {r.get('id')} \u2014 {r.get('title')}"
            for r in found[:MAX_RUNBOOKS]
            if isinstance(r, dict)
        ]


class DeliveryError(VigilError):
    """A channel could not deliver; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``DeliveryError``."""

    async def close(self) -> None:
        """Release connections; called once when the worker stops."""


@dataclass(frozen=True)
class ChannelKind:
    name: str
    factory: Callable[[str, ChannelConfig], Channel]
    # Whether a status update has a place there (PagerDuty's events have none).
    takes_updates: bool = True


ChannelFactory = Callable[[str, ChannelConfig], Channel]
__all__ = ["Channel", "ChannelKind", "DeliveryError", "Message", "MessageEvent", "OutboxStatus"]
