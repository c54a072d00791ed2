"""Group windows: the messages of an alert storm reach a channel as one message, not hundreds.

A channel with ``group_wait`` (as Alertmanager's) sends nothing until the oldest message waiting
for it has waited that long; then one message lists every message queued meanwhile (at most
``GROUP_LIMIT``; the rest go in the next one). After a grouped send the channel's next window
opens ``group_interval`` later. Rows stay one per incident and channel in the outbox, so what
the outbox promises holds as it does for single messages: each row is claimed under a lease and
recorded delivered once, an acknowledgement or resolve goes only after its trigger (the next
window), and quiet still holds a trigger back (it is left out of the group). Each page in the
group carries its own acknowledge link, made as it leaves for whoever reads the channel
(``incidents.ack_links``): on its line of the text, and in the body's ``acknowledge`` list.
The grouped message's key is made from its rows' keys: a retry of the same rows repeats it, so
a receiver that drops repeated keys drops the repeat.

A window is kept in memory: after a restart, or on another Vigil instance, the first window
does not know when the last one was sent and may open early.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.notify import NotifySettings
from vigil.notify.base import Message, MessageEvent
from vigil.store import outbox, outbox_results
from vigil.store.outbox import OutboxEntry
from vigil.store.outbox_results import Outcome

GROUP_LIMIT = 500  # rows in one grouped message
LISTED = 50  # lines a grouped message's text lists; the rest are counted


@dataclass
class GroupWindow:
    wait: float
    interval: float
    sent_at: datetime | None = None  # when the last grouped message went out

    def opens_at(self, oldest: datetime) -> datetime:
        """When a group whose oldest message was queued at ``oldest`` may be sent."""
        opens = oldest + timedelta(seconds=self.wait)
        if self.sent_at is not None:
            opens = max(opens, self.sent_at + timedelta(seconds=self.interval))
        return opens


def windows(settings: NotifySettings) -> dict[str, GroupWindow]:
    """A window for each channel whose stack file entry sets ``group_wait``."""
    return {
        name: GroupWindow(config.group_wait, config.group_interval)
        for name, config in settings.channels.items()
        if config.grouped
    }


async def claim(
    window: GroupWindow,
    engine: AsyncEngine,
    channel: str,
    now: datetime,
    lease: float,
    exclude: Collection[int],
    stack: str | None = None,
) -> list[OutboxEntry] | datetime:
    """The rows of the channel's group (those a worker of ``stack`` sends), claimed under one
    lease, when its window is open; when it opens otherwise (an empty list when nothing waits)."""
    oldest = await outbox.oldest_due(engine, channel, now, exclude=exclude, stack=stack)
    if oldest is None:
        return []
    opens = window.opens_at(oldest)
    if opens > now:
        return opens
    return await outbox.due(
        engine, now, GROUP_LIMIT, lease=lease, channels=[channel], exclude=exclude, stack=stack
    )


async def record_outcome(
    write: Callable[[Sequence[Outcome]], Awaitable[list[bool]]],
    sent: Sequence[OutboxEntry],
    outcome: tuple[str | None, bool],
    now: datetime,
    backoff: Callable[[int], float],
) -> dict[int, datetime | None]:
    """Record the outcome ``(error, permanent)`` of sending one row, or a group's rows as one
    message, on each row (through ``write``: the worker's batch, with the outcomes of other
    sends that finish meanwhile); returns the rows whose claim still held (the others are
    another worker's now), each with when it is tried again (None: delivered, or failed for
    good)."""
    error, permanent = outcome
    if error is None:
        retries: list[datetime | None] = [None] * len(sent)
        outcomes = [outbox_results.delivered(entry, now) for entry in sent]
    else:
        # Never later than the expiry, so that a message is given up on when it says.
        retries = [
            None if permanent else min(entry.expires_at, now + timedelta(seconds=backoff(entry.attempts)))
            for entry in sent
        ]
        outcomes = [outbox_results.failed(e, error, later) for e, later in zip(sent, retries, strict=True)]
    held = await write(outcomes)
    return {entry.id: later for entry, later, ours in zip(sent, retries, held, strict=True) if ours}


def combine(channel: str, messages: Sequence[Message]) -> Message:
    """One message listing ``messages`` (as they leave: a page with its acknowledge link): a title
    that counts them by event, a line for each of the first ``LISTED`` (its title, its incident's
    link and its acknowledge link), every message's payload, and the acknowledge links, one per
    page, for webhooks."""
    counts = Counter(str(message.event) for message in messages)
    tally = ", ".join(f"{n} {event}" for event, n in counts.most_common())
    severities = Counter(str(m.payload["severity"]) for m in messages if m.payload.get("severity"))
    levels = "; " + ", ".join(f"{n} {level}" for level, n in sorted(severities.items())) if severities else ""
    title = f"[Vigil] {len(messages)} notifications ({tally}{levels})"
    lines = [_line(message) for message in messages[:LISTED]]
    if len(messages) > LISTED:
        lines.append(f"… and {len(messages) - LISTED} more, listed on the dashboard")
    digest = hashlib.sha256("\n".join(message.key for message in messages).encode()).hexdigest()[:24]
    payload = {
        "event": str(MessageEvent.GROUP),
        "title": title,
        "count": len(messages),
        "counts": dict(counts),
        "message": "\n".join(lines),
        "messages": [{**m.payload, "event": str(m.event), "idempotency_key": m.key} for m in messages],
        "acknowledge": [
            {
                "incident_id": m.payload.get("incident_id"),
                "title": m.payload.get("title"),
                "ack_url": m.payload["ack_url"],
            }
            for m in messages
            if m.payload.get("ack_url")
        ],
    }
    return Message(f"group-{channel}-{digest}", channel, MessageEvent.GROUP, payload)


def _line(message: Message) -> str:
    url, ack = message.payload.get("url"), message.payload.get("ack_url")
    return message.title + (f" {url}" if url else "") + (f" \u2014 acknowledge: {ack}" if ack else "")
