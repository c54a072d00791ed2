"""The stack file's ``people:`` and ``oncall:`` — who can be paged, who is on call when, and how a
page escalates until someone acknowledges.

```yaml
people:
  alice: {notify: ["mailto://alice@example.com"], name: Alice Smith}
oncall:
  schedules:
    primary:
      timezone: Europe/London
      rotation: {every: 1w, handoff: "mon 09:00", start: 2026-01-05}
      members: [alice, bob]
      layers:
        - {rotation: {every: 1d, handoff: "18:00", start: 2026-01-05}, members: [carol], restrict: ["mon-fri 18:00-09:00"]}
      overrides:
        - {who: erin, from: "2026-02-10T00:00:00Z", to: "2026-02-11T00:00:00Z"}
  escalation:
    default:
      steps:
        - {notify: ["schedule:primary"], wait: 15m}
        - {notify: ["person:erin", "channel:ops"], wait: 15m}
      repeat: 1
```

This module checks each part on its own (a time zone, a handoff, an override's order); the
references between parts (a member who is not in ``people:``, an unknown schedule or channel,
a schedule nobody is on) are checked over the whole file by ``config.oncall_refs``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, field_validator, model_validator

from vigil.config.check import NAME_PATTERN, StrictModel
from vigil.config.durations import Duration
from vigil.config.zones import ZoneName

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
DAY = 86400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HANDOFF = re.compile(r"^(?:(?P<day>[a-z]+)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_WINDOW = re.compile(
    r"^(?:(?P<days>[a-z]+(?:-[a-z]+)?(?:,[a-z]+(?:-[a-z]+)?)*)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
TARGET_KINDS = ("schedule", "person", "channel")
_TARGET = re.compile(rf"^({'|'.join(TARGET_KINDS)}):[A-Za-z0-9][A-Za-z0-9_-]*$")


def _target(value: str) -> str:
    if not _TARGET.match(value):
        shown = value if len(value) <= 60 else value[:60] + "…"
        raise ValueError(f"{shown!r} is not a page target; write schedule:NAME, person:NAME or channel:NAME")
    return value


Target = Annotated[str, Field(max_length=200), AfterValidator(_target)]


def weekday(word: str) -> int:
    """Monday 0 … Sunday 6 for ``mon``, ``Monday``, ``tues``…; ``ValueError`` otherwise."""
    text = word.lower()
    for index, day in enumerate(WEEKDAYS):
        full = dt.date(2024, 1, 1 + index).strftime("%A").lower()  # 2024-01-01 was a Monday
        if len(text) >= 3 and full.startswith(text):
            return index
        if text == day:
            return index
    raise ValueError(f"{word!r} is not a weekday; write mon, tue, wed, thu, fri, sat or sun")


def clock_time(text: str) -> dt.time:
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) <= 24 and int(minute) < 60):
        raise ValueError(f"{text!r} is not a time of day; write it like 09:00")
    if int(hour) == 24:
        if int(minute):
            raise ValueError(f"{text!r} is not a time of day; write it like 09:00")
        return dt.time.max  # 24:00, the end of the day, only as the end of a window
    return dt.time(int(hour), int(minute))


@dataclass(frozen=True)
class Handoff:
    """When shifts change hands: a time of day, and for weekly rotations a weekday."""

    weekday: int | None
    time: dt.time


def parse_handoff(text: str) -> Handoff:
    match = _HANDOFF.match(text.strip().lower())
    if not match:
        raise ValueError(
            f'{text!r} is not a handoff; write a weekday and a time ("mon 09:00") or a time ("09:00")'
        )
    day = weekday(match["day"]) if match["day"] else None
    at = clock_time(f"{match['hour']}:{match['minute']}")
    if at == dt.time.max:
        raise ValueError(f"{text!r} is not a handoff; a handoff is at 00:00 to 23:59")
    return Handoff(day, at)


@dataclass(frozen=True)
class Window:
    """Local times a layer covers: on ``days`` (Monday 0), from ``start`` to ``end``; an end at or
    before the start runs past midnight into the next day."""

    days: frozenset[int]
    start: dt.time
    end: dt.time


def parse_window(text: str) -> Window:
    match = _WINDOW.match(text.strip().lower())
    if not match:
        raise ValueError(
            f'{text!r} is not a time window; write it like "mon-fri 09:00-17:00" or "22:00-06:00"'
        )
    days: set[int] = set()
    for part in (match["days"] or "mon-sun").split(","):
        first, _, last = part.partition("-")
        low, high = weekday(first), weekday(last or first)
        days.update(range(low, high + 1) if low <= high else [*range(low, 7), *range(0, high + 1)])
    start, end = clock_time(match["start"]), clock_time(match["end"])
    if start == dt.time.max:
        raise ValueError(f"{text!r}: a window starts at 00:00 to 23:59")
    return Window(frozenset(days), start, end)


def _apprise_url(value: str) -> str:
    # The value is not quoted back: it may hold a token from the environment.
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", value):
        raise ValueError("a contact is an Apprise URL such as mailto://…, slack://…, ntfy://… or tgram://…")
    return value


class Person(StrictModel):
    notify: list[Annotated[str, Field(max_length=2000), AfterValidator(_apprise_url)]] = Field(
        max_length=20,
        description="Apprise URLs this person is paged at: mailto://…, slack://…, ntfy://…, tgram://…",
    )
    name: str | None = Field(None, max_length=200, description="Shown on the dashboard and in calendars.")
    email: str | None = Field(None, max_length=320, description="Matches the person in an imported calendar.")

    @field_validator("notify")
    @classmethod
    def _reachable(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a person needs at least one way to be paged: notify: [mailto://…]")
        return value

    def shown(self, key: str) -> str:
        return self.name or key


class Rotation(StrictModel):
    every: Duration = Field(
        description="Shift length: whole days or weeks (1d, 1w, 2w), or hours dividing a day (12h)."
    )
    handoff: str = Field(
        "09:00", description='When shifts change, in the schedule\'s time zone: "mon 09:00" or "09:00".'
    )
    start: dt.date = Field(description="The first shift starts at the first handoff on or after this date.")

    @field_validator("every")
    @classmethod
    def _whole_days_or_part_of_one(cls, value: float) -> float:
        if value >= DAY and value % DAY == 0:
            return value
        if 3600 <= value < DAY and DAY % value == 0:
            return value
        raise ValueError("a rotation lasts whole days (1d, 1w, 2w) or hours that divide a day (1h … 12h)")

    @field_validator("handoff")
    @classmethod
    def _handoff_parses(cls, value: str) -> str:
        parse_handoff(value)
        return value

    @model_validator(mode="after")
    def _weekday_needs_weeks(self) -> Rotation:
        if parse_handoff(self.handoff).weekday is not None and self.every % (7 * DAY):
            raise ValueError(
                f"a handoff on a weekday ({self.handoff!r}) needs a rotation of whole weeks (1w, 2w); "
                'write only a time ("09:00") for a daily one'
            )
        return self

    @property
    def handoff_at(self) -> Handoff:
        return parse_handoff(self.handoff)


class Layer(StrictModel):
    rotation: Rotation
    members: list[Name] = Field(default_factory=list, max_length=200)
    restrict: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description='Local times this layer covers, e.g. ["mon-fri 09:00-17:00"]; default: all the time.',
    )

    @field_validator("restrict")
    @classmethod
    def _windows_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_window(text)
        return value

    @property
    def windows(self) -> list[Window]:
        return [parse_window(text) for text in self.restrict]


class Override(StrictModel):
    who: Name
    from_: dt.datetime = Field(
        alias="from", description="A time with an offset (…Z); without one, the schedule's zone."
    )
    to: dt.datetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> Override:
        start, end = self.from_, self.to
        if (start.tzinfo is None) == (end.tzinfo is None) and end <= start:
            raise ValueError(f"the override ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        return self


class Schedule(StrictModel):
    timezone: ZoneName = Field("UTC", description="The IANA zone handoffs are read in, e.g. Europe/London.")
    rotation: Rotation | None = Field(None, description="The base rotation of `members`.")
    members: list[Name] = Field(
        default_factory=list, max_length=200, description="People, in rotation order."
    )
    layers: list[Layer] = Field(
        default_factory=list,
        max_length=20,
        description="More rotations on top: a later layer wins where it has someone.",
    )
    overrides: list[Override] = Field(default_factory=list, max_length=1000)
    ical: str | None = Field(
        None,
        max_length=2000,
        description="Shifts from an iCalendar file (relative to the stack file) or URL.",
    )

    @model_validator(mode="after")
    def _members_need_a_rotation(self) -> Schedule:
        if self.members and self.rotation is None:
            raise ValueError(
                'members take turns by a rotation: add rotation: {every: 1w, handoff: "mon 09:00", start: …}'
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class EscalationStep(StrictModel):
    notify: list[Target] = Field(
        min_length=1,
        max_length=20,
        description='Who this step pages: "schedule:NAME" (who is on call), "person:NAME" or "channel:NAME".',
    )
    wait: Duration = Field(0.0, description="How long to wait for an acknowledgement before the next step.")


class EscalationPolicy(StrictModel):
    steps: list[EscalationStep] = Field(min_length=1, max_length=20)
    repeat: int = Field(
        0, ge=0, le=10, description="How many more times the steps run when nobody acknowledges."
    )


class OnCallSettings(StrictModel):
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    escalation: dict[Name, EscalationPolicy] = Field(
        default_factory=dict, description="Escalation policies by name; severities name the one they use."
    )
