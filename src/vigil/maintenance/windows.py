"""Maintenance windows: recurring ones from the stack file and ones started by hand.

A scheduled window is active when its most recent cron start plus its duration lies after
``now``. The start is computed by croniter on an aware datetime in the window's own time zone,
so ``0 4 * * SUN`` in Europe/Berlin is 03:00 UTC in winter and 02:00 UTC in summer.

Daylight saving changes are handled as Vixie cron handles them. A start that the spring change
skips (02:30 on that Sunday in Berlin) happens once, when the clocks jump to 03:00. A start at
a fixed time in the hour that the autumn change repeats (``30 2 * * SUN``) happens once, at its
first 02:30; a schedule that runs every hour or minute (``0 * * * *``, ``*/5 2 * * *``) keeps
running through the repeated hour, since that hour really passes twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.alerting.silences import (
    Matcher,
    MatchOp,
    QuietError,
    all_match,
    matchers_from,
    parse_matchers,
    span,
)
from vigil.config.check import NAME_PATTERN
from vigil.config.maintenance import MaintenanceSettings, WindowSettings
from vigil.engine.clock import Clock
from vigil.errors import ConflictError, NotFoundError
from vigil.incidents.model import iso, utc
from vigil.store.tables import MaintenanceWindowRow as Row

_TICK = timedelta(microseconds=1)
NAME_LIMIT = 100


class WindowSource(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


@dataclass(frozen=True)
class Window:
    """One run of a window: the current or next one of a schedule, or one started by hand."""

    name: str
    source: WindowSource
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    started_by: str | None = None
    comment: str | None = None
    schedule: str | None = None  # "0 2 * * SUN Europe/Berlin", for people reading a list

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.matchers, labels)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": str(self.source),
            "active": self.active(now),
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "matchers": [m.as_dict() for m in self.matchers],
            "schedule": self.schedule,
            "started_by": self.started_by,
            "comment": self.comment,
        }

    @classmethod
    def from_row(cls, row: Any) -> Window:
        return cls(
            row.name,
            WindowSource.MANUAL,
            matchers_from(row.matchers),
            utc(row.starts_at),
            utc(row.ends_at),
            row.started_by,
            row.comment,
        )


class Schedule:
    """A recurring window; remembers the cron starts around the last ``now`` it was asked about,
    so asking once per incident costs two comparisons, not a cron computation."""

    def __init__(self, settings: WindowSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.length = timedelta(seconds=settings.duration)
        self.matchers = tuple(Matcher(name, MatchOp.EQ, value) for name, value in settings.matchers.items())
        self._around: tuple[datetime, datetime] | None = None  # the cron starts on either side of now
        self._fixed_time = _fixed_time(settings.cron)

    def window(self, now: datetime) -> Window:
        """The run that is active at ``now``, or else the next one."""
        previous, following = self._starts(now)
        start = previous if now < previous + self.length else following
        s = self.settings
        return Window(
            s.name,
            WindowSource.SCHEDULE,
            self.matchers,
            start,
            start + self.length,
            schedule=f"{s.cron} {s.timezone}",
        )

    def _starts(self, now: datetime) -> tuple[datetime, datetime]:
        if self._around is None or not self._around[0] <= now < self._around[1]:
            # One tick past now, so that a window starting exactly now counts as started.
            local = (now + _TICK).astimezone(self.zone)
            backward, forward = croniter(self.settings.cron, local), croniter(self.settings.cron, local)
            self._around = (self._start(backward.get_prev), self._start(forward.get_next))
        return self._around

    def _start(self, step: Callable[[type[datetime]], datetime]) -> datetime:
        """The next start in ``step``'s direction, in UTC, passing over a fixed time's second go."""
        while True:
            start = step(datetime).astimezone(UTC)
            if not (self._fixed_time and _repeated(start.astimezone(self.zone))):
                return start


def _fixed_time(cron: str) -> bool:
    """Whether a cron names fixed times of day (``30 2 * * SUN``), not every hour or minute of
    some (``0 * * * *``, ``*/5 2 * * *``): Vixie cron's line between the two."""
    if cron.startswith("@"):
        return cron != "@hourly"
    minute, hour = cron.split()[:2]
    return not (minute.startswith("*") or hour.startswith("*"))


def _repeated(local: datetime) -> bool:
    """A wall-clock time's second go, in the hour an autumn change repeats."""
    return local.fold == 1 and local.utcoffset() != local.replace(fold=0).utcoffset()


class MaintenanceService:
    """Starting, stopping and listing windows; ``on_change`` lets a cache drop its copy."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: MaintenanceSettings,
        clock: Clock,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.schedules = [Schedule(w) for w in settings.windows]
        self.on_change = on_change or (lambda: None)

    def scheduled(self, now: datetime) -> list[Window]:
        return [s.window(now) for s in self.schedules]

    async def manual(self, now: datetime) -> list[Window]:
        """Windows started by hand that have not ended."""
        query = select(Row).where(Row.ends_at > now).order_by(Row.starts_at)
        async with self.engine.connect() as conn:
            return [Window.from_row(r) for r in (await conn.execute(query)).all()]

    async def list(self) -> list[Window]:
        """Every window worth knowing about: the active ones first, then each schedule's next run."""
        now = self.clock.now()
        windows = await self.manual(now) + self.scheduled(now)
        return sorted(windows, key=lambda w: (not w.active(now), w.starts_at, w.name))

    async def start(
        self,
        name: str,
        *,
        duration: float,
        started_by: str,
        matchers: Sequence[str | Matcher] = (),
        comment: str | None = None,
    ) -> Window:
        """Start a window now, for ``duration`` seconds; no matchers quiets every alert."""
        if len(name) > NAME_LIMIT or not re.fullmatch(NAME_PATTERN, name):
            raise QuietError(
                f"{name!r} is not a window name; use up to {NAME_LIMIT} letters, digits, '-' and '_'"
            )
        if name in {s.settings.name for s in self.schedules}:
            raise ConflictError(f"{name!r} is a scheduled window in the stack file; pick another name")
        parsed = parse_matchers(matchers)
        now = self.clock.now()
        start, end = span(now, None, None, duration)
        async with self.engine.begin() as conn:
            running = await _running(conn, name, now)
            if running is not None:
                raise ConflictError(
                    f"window {name!r} is already on until {iso(running.ends_at)}; stop it first"
                )
            values = {
                "name": name,
                "matchers": [m.as_dict() for m in parsed],
                "starts_at": start,
                "ends_at": end,
                "started_by": started_by[:200],
                "comment": comment,
            }
            await conn.execute(insert(Row).values(values))
        self.on_change()
        return Window(name, WindowSource.MANUAL, tuple(parsed), start, end, started_by, comment)

    async def stop(self, name: str, actor: str) -> Window:
        """End the window started by hand under ``name``, now."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            running = await _running(conn, name, now)
            if running is None:
                hint = (
                    "; it is scheduled in the stack file, change its cron there"
                    if name in {s.settings.name for s in self.schedules}
                    else ""
                )
                raise NotFoundError(f"no window {name!r} started by hand is on{hint}")
            await conn.execute(
                update(Row).where(Row.id == running.id).values(ends_at=now, stopped_by=actor[:200])
            )
        self.on_change()
        return replace(Window.from_row(running), ends_at=now)


async def _running(conn: AsyncConnection, name: str, now: datetime) -> Any:
    query = select(Row).where(Row.name == name, Row.starts_at <= now, Row.ends_at > now)
    return (await conn.execute(query)).first()
