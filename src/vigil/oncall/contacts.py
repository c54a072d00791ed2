"""People as outbox channels: each of a person's contact methods (an Apprise URL) is a channel
named ``person:<name>/<digest of the URL>``.

The name carries no part of the URL (URLs hold tokens and addresses), only a digest that tells
the person's URLs apart and notices when one changed; the worker turns a name back into a
channel by asking the on-call directory for the person's contacts, so a page queued before a
restart is still sent after it, and a page to a contact since removed from the stack file fails
with a reason instead of going to whatever URL now sits in its place.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from vigil.engine.clock import Clock
from vigil.notify.apprise import AppriseChannel
from vigil.notify.base import Channel

log = logging.getLogger("vigil.oncall")

PERSON = "person:"
SCHEDULE = "schedule:"
CHANNEL = "channel:"


class Directory(Protocol):
    """Who is on call and how to reach them (``vigil.oncall.service.OnCall``)."""

    def who(self, schedule: str, at: datetime) -> list[str]:
        """The people on call for ``schedule`` at ``at``."""
        ...

    def contacts(self, target: str, at: datetime) -> list[tuple[str, str]]:
        """``(person, Apprise URL)`` for ``person:NAME`` or ``schedule:NAME`` at ``at``."""
        ...


def contact_channel(person: str, url: str) -> str:
    return f"{PERSON}{person}/{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def person_of(channel: str) -> str | None:
    """The person a contact channel reaches; None for a configured channel."""
    if not channel.startswith(PERSON) or "/" not in channel:
        return None
    return channel[len(PERSON) :].rsplit("/", 1)[0]


def shown_url(url: str) -> str:
    """An Apprise URL as a timeline may show it: its scheme alone (tokens sit anywhere else)."""
    return f"{url.split('://', 1)[0]}://…" if "://" in url else "(not a URL)"


class ContactChannels:
    """Channels for contact channel names, made on first use and kept."""

    def __init__(self, directory: Directory | None, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self.made: dict[str, Channel] = {}
        self.shown: dict[str, str] = {}

    def channel_for(self, name: str) -> Channel | None:
        """The channel a contact channel name stands for, or None when it stands for none now."""
        if name in self.made:
            return self.made[name]
        url = self._url(name)
        if url is None:
            return None
        channel = self.made[name] = AppriseChannel(name, url)
        return channel

    def describe(self, name: str) -> str:
        """``erin via mailto://…`` for a contact channel; any other channel's own name."""
        person = person_of(name)
        if person is None:
            return name
        if name not in self.shown:
            url = self._url(name)
            self.shown[name] = f"{person} via {shown_url(url)}" if url else f"{person} (a removed contact)"
        return self.shown[name]

    def _url(self, name: str) -> str | None:
        person = person_of(name)
        if person is None or self.directory is None:
            return None
        try:
            found = self.directory.contacts(f"{PERSON}{person}", self.clock.now())
        except Exception:  # an unknown person: the stack file changed since the page was queued
            log.warning("no contacts for %s; its pages cannot be sent", person)
            return None
        return next((url for who, url in found if contact_channel(who, url) == name), None)

    async def close(self) -> None:
        for channel in self.made.values():
            await channel.close()


def channel_names(contacts: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """``(person, channel name, shown URL)`` for each contact."""
    return [(person, contact_channel(person, url), shown_url(url)) for person, url in contacts]
