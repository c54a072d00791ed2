"""``OnCall``: the stack file's people and schedules, asked who is on call and how to reach them.

The one service behind ``vigil oncall``, ``/api/v1/oncall``, the dashboard and escalation.
Built once from the stack file (``runtime.oncall``); calendar files named by ``ical:`` are
read then, calendars at a URL by ``refresh`` (at start and every ``CALENDAR_EVERY``), so
asking who is on call never waits on the network. A calendar URL not yet read, or failing,
leaves that schedule's other layers answering, and its last good shifts in place.
"""

from __future__ import annotations

import datetime as dt
import logging

import httpx

from vigil.config import bounded_read
from vigil.config.load import Stack
from vigil.config.oncall import Person, Schedule
from vigil.config.oncall_refs import calendar_path
from vigil.engine.clock import Clock
from vigil.errors import NotFoundError
from vigil.oncall import ical
from vigil.oncall.schedule import OnCallSchedule, Shift, build, handoffs, who
from vigil.oncall.status import ScheduleStatus

log = logging.getLogger("vigil.oncall")
CALENDAR_EVERY = 15 * 60.0
CALENDAR_TIMEOUT = 10.0
MAX_HANDOFFS = 100


class OnCall:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.people: dict[str, Person] = dict(stack.model.people)
        self.configs: dict[str, Schedule] = dict(stack.model.oncall.schedules)
        self.schedules: dict[str, OnCallSchedule] = {}
        for name, config in self.configs.items():
            imported: list[Shift] = []
            if config.ical and not _is_url(config.ical):
                path = calendar_path(stack.file, config.ical)
                imported = ical.read_file(path, self.people, config.zone)
            self.schedules[name] = build(name, config, imported)

    @property
    def names(self) -> list[str]:
        return list(self.schedules)

    def schedule(self, name: str) -> OnCallSchedule:
        found = self.schedules.get(name)
        if found is None:
            listed = ", ".join(self.schedules) or "none (add oncall: schedules: to the stack file)"
            raise NotFoundError(f"no schedule {name!r}; the schedules are: {listed}")
        return found

    def who(self, schedule: str, at: dt.datetime) -> list[str]:
        """The names of the people on call on ``schedule`` at ``at``; empty when nobody is."""
        return who(self.schedule(schedule), at)

    def next_handoffs(self, schedule: str, at: dt.datetime, count: int = 5) -> list[Shift]:
        """The next ``count`` (at most ``MAX_HANDOFFS``) shifts starting after ``at``."""
        return handoffs(self.schedule(schedule), at, max(0, min(count, MAX_HANDOFFS)))

    def status(self, schedule: str, at: dt.datetime) -> ScheduleStatus:
        """Who is on call at ``at``, until when, and who comes next."""
        found = self.schedule(schedule)
        names = who(found, at)
        upcoming = handoffs(found, at, 1)
        shown = [(name, self.people[name].shown(name) if name in self.people else name) for name in names]
        first = upcoming[0] if upcoming else None
        when = at if at.tzinfo else at.replace(tzinfo=found.zone)
        return ScheduleStatus(schedule, found.zone.key, when, shown, first.start if first else None, first)

    def person(self, name: str) -> Person:
        found = self.people.get(name)
        if found is None:
            raise NotFoundError(f"no person {name!r} in people:")
        return found

    def contacts(self, target: str, at: dt.datetime) -> list[tuple[str, str]]:
        """``(person, Apprise URL)`` for each way to reach ``schedule:NAME`` (whoever is on call at
        ``at``) or ``person:NAME``; ``channel:NAME`` and unknown kinds give none (the caller's)."""
        kind, _, name = target.partition(":")
        if kind == "schedule":
            names = self.who(name, at)
        elif kind == "person":
            self.person(name)
            names = [name]
        else:
            return []
        return [(person, url) for person in names for url in self.people[person].notify]

    def feed(self, schedule: str, now: dt.datetime) -> bytes:
        return ical.feed(self.schedule(schedule), self.people, now, redact=self.stack.redactor)

    async def refresh(self, http: httpx.AsyncClient) -> None:
        """Read every calendar at a URL again; one that fails keeps its last shifts, logged."""
        for name, config in self.configs.items():
            if config.ical and _is_url(config.ical):
                shown = f"the calendar of {name}"
                try:
                    data = await bounded_read.download(
                        http,
                        config.ical,
                        ical.MAX_BYTES,
                        CALENDAR_TIMEOUT,
                        "calendar",
                        ical.CalendarError,
                        shown,
                    )
                    imported = ical.read_shifts(data, self.people, config.zone, where=shown)
                except ical.CalendarError as err:
                    log.warning("on-call calendar not read: %s", err)
                    continue
                self.schedules[name] = build(name, config, imported)

    @property
    def has_calendar_urls(self) -> bool:
        return any(c.ical and _is_url(c.ical) for c in self.configs.values())

    async def run(self, http: httpx.AsyncClient, clock: Clock) -> None:
        while True:
            await self.refresh(http)
            await clock.sleep(CALENDAR_EVERY)


def _is_url(ical_source: str) -> bool:
    return ical_source.startswith(("http://", "https://"))
