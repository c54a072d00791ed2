"""Who is on call when: pure functions over a schedule built from the stack file.

The rule, as PagerDuty's: an **override** covering the instant wins; otherwise the **topmost
layer** that has someone at that instant does — layers are stacked in the order
``ical`` (the imported calendar) → the schedule's own ``rotation``/``members`` → each of
``layers:`` in order, so a later layer overrides the earlier ones wherever it has someone, and
leaves them showing through where it has nobody (outside its ``restrict`` windows, before its
start). Several overrides (or calendar events) covering one instant put all their people on call.

Rotations are computed in the schedule's time zone on the wall clock: a weekly ``mon 09:00``
handoff is at 09:00 local time in winter and in summer, so the shift that spans a change of
clock is an hour shorter or longer. A handoff time that does not exist on a day (inside the
spring-forward gap) is read with the offset in force before the change (02:30 on New York's
spring-forward night is 03:30 EDT); one that happens twice (the autumn fall-back) is the first. Every datetime in and out is timezone-aware UTC.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from vigil.config.oncall import DAY, Rotation, Schedule, Window, parse_window

UTC = dt.UTC
# The longest a schedule is ever walked at once (a feed's horizon, the search for a next handoff).
LONGEST_SPAN = dt.timedelta(days=400)


@dataclass(frozen=True)
class Shift:
    """``people`` on call from ``start`` to ``end`` (UTC); empty when nobody is."""

    start: dt.datetime
    end: dt.datetime
    people: tuple[str, ...]


@dataclass(frozen=True)
class RotationLayer:
    """Members taking turns: shift ``k`` starts ``k`` rotation lengths after the first handoff,
    counted on the local wall clock, and belongs to ``members[k % len(members)]``."""

    members: tuple[str, ...]
    zone: ZoneInfo
    first: dt.datetime  # the first handoff, local wall time (naive)
    day_step: int  # days from one handoff to the next (1 for rotations shorter than a day)
    per_day: int  # handoffs per day (1 for rotations of whole days)
    windows: tuple[Window, ...] = ()

    @property
    def every(self) -> dt.timedelta:
        return dt.timedelta(days=self.day_step) if self.per_day == 1 else dt.timedelta(days=1) / self.per_day

    def start_of(self, k: int) -> dt.datetime:
        days, slot = divmod(k, self.per_day)
        local = self.first + dt.timedelta(days=days * self.day_step) + slot * self.every
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def index_at(self, at: dt.datetime) -> int:
        """The shift holding ``at``: a guess from elapsed time, corrected by the hour or two a
        change of clock moves it (a zero-length shift in a spring-forward gap is stepped over)."""
        k = (at - self.start_of(0)) // self.every
        while self.start_of(k) > at:
            k -= 1
        while self.start_of(k + 1) <= at:
            k += 1
        return k

    def who(self, at: dt.datetime) -> tuple[str, ...]:
        if not self.members or (self.windows and not _inside(self.windows, self.zone, at)):
            return ()
        k = self.index_at(at)
        return (self.members[k % len(self.members)],) if k >= 0 else ()

    def boundaries(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        k = max(self.index_at(start), 0)
        while (at := self.start_of(k)) < end:
            yield at
            k += 1
        yield from _window_edges(self.windows, self.zone, start, end)


@dataclass(frozen=True)
class FixedShifts:
    """Shifts given outright: overrides, or the events of an imported calendar. Kept in the
    order given (the order people are listed in when shifts overlap); looked up by start time,
    so a calendar of 10,000 events answers in a bisection, not a scan."""

    shifts: tuple[Shift, ...] = ()
    _by_start: tuple[tuple[int, Shift], ...] = field(init=False, repr=False, compare=False)
    _starts: tuple[dt.datetime, ...] = field(init=False, repr=False, compare=False)
    _longest: dt.timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(enumerate(self.shifts), key=lambda pair: pair[1].start))
        object.__setattr__(self, "_by_start", ordered)
        object.__setattr__(self, "_starts", tuple(s.start for _, s in ordered))
        longest = max((s.end - s.start for s in self.shifts), default=dt.timedelta())
        object.__setattr__(self, "_longest", longest)

    def _starting(self, low: dt.datetime, high: dt.datetime) -> tuple[tuple[int, Shift], ...]:
        """The shifts (with their place in the order given) that start from ``low`` to ``high``."""
        return self._by_start[bisect.bisect_left(self._starts, low) : bisect.bisect_right(self._starts, high)]

    def who(self, at: dt.datetime) -> tuple[str, ...]:
        holding = sorted((i, s) for i, s in self._starting(at - self._longest, at) if at < s.end)
        return tuple(dict.fromkeys(p for _, s in holding for p in s.people))

    def boundaries(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        for _, shift in self._starting(start - self._longest, end):
            yield from (at for at in (shift.start, shift.end) if start <= at < end)


Layer = RotationLayer | FixedShifts


@dataclass(frozen=True)
class OnCallSchedule:
    """A schedule ready to answer: its layers bottom to top, and its overrides."""

    name: str
    zone: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: FixedShifts = field(default_factory=FixedShifts)


def build(name: str, config: Schedule, imported: Sequence[Shift] = ()) -> OnCallSchedule:
    """The schedule of the stack file's ``oncall.schedules.NAME``, with the shifts read from its
    calendar (``ical:``), if any, as its bottom layer."""
    zone = config.zone
    layers: list[Layer] = [FixedShifts(tuple(sorted(imported, key=lambda s: s.start)))] if imported else []
    if config.rotation is not None:
        layers.append(_rotation(config.rotation, config.members, (), zone))
    for layer in config.layers:
        layers.append(_rotation(layer.rotation, layer.members, layer.restrict, zone))
    overrides = tuple(Shift(_aware(o.from_, zone), _aware(o.to, zone), (o.who,)) for o in config.overrides)
    return OnCallSchedule(name, zone, tuple(layers), FixedShifts(overrides))


def _rotation(
    rotation: Rotation, members: Iterable[str], restrict: Iterable[str], zone: ZoneInfo
) -> RotationLayer:
    handoff = rotation.handoff_at
    first_day = rotation.start
    if handoff.weekday is not None:
        first_day += dt.timedelta(days=(handoff.weekday - first_day.weekday()) % 7)
    whole_days = rotation.every >= DAY
    return RotationLayer(
        members=tuple(members),
        zone=zone,
        first=dt.datetime.combine(first_day, handoff.time),
        day_step=int(rotation.every // DAY) if whole_days else 1,
        per_day=1 if whole_days else int(DAY // rotation.every),
        windows=tuple(parse_window(text) for text in restrict),
    )


def _aware(at: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(UTC)


def who(schedule: OnCallSchedule, at: dt.datetime) -> list[str]:
    """The people on call at ``at``: an override's, else the topmost layer's with someone."""
    at = _aware(at, schedule.zone)
    people = schedule.overrides.who(at)
    for layer in reversed(schedule.layers):
        if people:
            break
        people = layer.who(at)
    return list(people)


def shifts(schedule: OnCallSchedule, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """The schedule as it will be worked, from ``start`` to ``end`` (at most ``LONGEST_SPAN``):
    consecutive shifts that tile the span with no gap, each a change of who is on call (the
    first begins at ``start``, the last ends at ``end``; a span with nobody is a shift of nobody)."""
    start, end = _aware(start, schedule.zone), _aware(end, schedule.zone)
    end = min(end, start + LONGEST_SPAN)
    edges = {start, end}
    for layer in (*schedule.layers, schedule.overrides):
        edges.update(at for at in layer.boundaries(start, end) if start < at < end)
    ordered = sorted(edges)
    out: list[Shift] = []
    for left, right in itertools.pairwise(ordered):
        people = tuple(who(schedule, left))
        if out and out[-1].people == people:
            out[-1] = Shift(out[-1].start, right, people)
        else:
            out.append(Shift(left, right, people))
    return out


def handoffs(schedule: OnCallSchedule, after: dt.datetime, count: int) -> list[Shift]:
    """The next ``count`` shifts starting after ``after`` (each start is a handoff), looked for
    within ``LONGEST_SPAN``; the last one's end is where the search stopped when it goes on."""
    after = _aware(after, schedule.zone)
    found: list[Shift] = []
    span = dt.timedelta(days=28)
    # One more than asked for: the last shift found is cut at the end of the search.
    while len(found) < count + 2 and span <= LONGEST_SPAN:
        found = shifts(schedule, after, after + span)
        span *= 2
    return [s for s in found if s.start > after][:count]


def _inside(windows: Sequence[Window], zone: ZoneInfo, at: dt.datetime) -> bool:
    local = at.astimezone(zone).replace(tzinfo=None)
    for day in (local.date() - dt.timedelta(days=1), local.date()):
        for window in windows:
            if day.weekday() in window.days:
                begin, finish = _window_on(window, day)
                if begin <= local < finish:
                    return True
    return False


def _window_on(window: Window, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The local wall times ``window`` covers when it starts on ``day``."""
    begin = dt.datetime.combine(day, window.start)
    if window.end == dt.time.max:
        return begin, dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    finish = dt.datetime.combine(day, window.end)
    if finish <= begin:
        finish += dt.timedelta(days=1)
    return begin, finish


def _window_edges(
    windows: Sequence[Window], zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> Iterator[dt.datetime]:
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for window in windows:
            if day.weekday() in window.days:
                for local in _window_on(window, day):
                    yield local.replace(tzinfo=zone).astimezone(UTC)
        day += dt.timedelta(days=1)
