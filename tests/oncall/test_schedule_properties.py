"""Properties of any simple rotation, in zones with clock changes of an hour and of half an hour:
exactly one member is on call after the first handoff, shifts tile time with no gap or overlap,
and every handoff of a rotation of whole days falls at the local handoff time."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.config.oncall import Schedule
from vigil.oncall.schedule import OnCallSchedule, build, shifts, who

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
EVERY = ["1h", "2h", "3h", "4h", "6h", "8h", "12h", "1d", "2d", "3d", "1w", "2w"]


@st.composite
def rotations(draw: st.DrawFn) -> tuple[OnCallSchedule, Schedule]:
    every = draw(st.sampled_from(EVERY))
    # From 03:00: no handoff falls inside a spring-forward gap (these zones change at 02:00).
    hour, minute = draw(st.integers(3, 23)), draw(st.sampled_from([0, 15, 30, 45]))
    day = f"{draw(st.sampled_from(['mon', 'wed', 'sun']))} " if every.endswith("w") else ""
    config = Schedule.model_validate(
        {
            "timezone": draw(st.sampled_from(ZONES)),
            "rotation": {
                "every": every,
                "handoff": f"{day}{hour:02}:{minute:02}",
                "start": draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1))),
            },
            "members": [f"m{i}" for i in range(draw(st.integers(1, 5)))],
        }
    )
    return build("s", config), config


def first_handoff(schedule: OnCallSchedule) -> dt.datetime:
    layer = schedule.layers[0]
    assert hasattr(layer, "start_of")
    start: dt.datetime = layer.start_of(0)
    return start


@settings(max_examples=300, deadline=None)
@given(rotations(), st.floats(0, 3 * 365 * 86400))
def test_exactly_one_member_is_on_call_at_any_instant_after_the_first_handoff(
    rotation: tuple[OnCallSchedule, Schedule], offset: float
) -> None:
    schedule, config = rotation
    at = first_handoff(schedule) + dt.timedelta(seconds=offset)
    on_call = who(schedule, at)
    assert len(on_call) == 1
    assert on_call[0] in config.members


@settings(max_examples=200, deadline=None)
@given(rotations(), st.floats(0, 3 * 365 * 86400), st.floats(3600, 60 * 86400))
def test_shifts_tile_time_without_gaps_and_agree_with_who(
    rotation: tuple[OnCallSchedule, Schedule], offset: float, length: float
) -> None:
    schedule, config = rotation
    start = first_handoff(schedule) + dt.timedelta(seconds=offset)
    end = start + dt.timedelta(seconds=length)
    found = shifts(schedule, start, end)
    assert found[0].start == start
    assert found[-1].end == end
    for before, after in itertools.pairwise(found):
        assert before.end == after.start
        assert before.people != after.people  # a boundary is a change of who is on call
    for shift in found:
        assert shift.start < shift.end
        assert who(schedule, shift.start) == list(shift.people)
        assert who(schedule, shift.end - dt.timedelta(microseconds=1)) == list(shift.people)
    zone = ZoneInfo(config.timezone)
    handoff = config.rotation.handoff_at if config.rotation else None
    if handoff and config.rotation and config.rotation.every >= 86400:
        for shift in found[1:]:
            local = shift.start.astimezone(zone)
            assert (local.hour, local.minute) == (handoff.time.hour, handoff.time.minute)
            if handoff.weekday is not None:
                assert local.weekday() == handoff.weekday


WINDOWS = [
    "mon-fri 09:00-17:00",
    "sat,sun 00:00-24:00",
    "22:00-06:00",
    "fri-mon 18:00-09:00",
    "wed 12:30-13:30",
]


@st.composite
def layered(draw: st.DrawFn) -> OnCallSchedule:
    def rotation() -> dict[str, str]:
        every = draw(st.sampled_from(EVERY))
        return {
            "every": every,
            "handoff": f"{draw(st.integers(0, 23)):02}:{draw(st.sampled_from(['00', '30']))}",
            "start": str(draw(st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)))),
        }

    layers = [
        {
            "rotation": rotation(),
            "members": [f"l{n}m{i}" for i in range(draw(st.integers(1, 3)))],
            "restrict": draw(st.lists(st.sampled_from(WINDOWS), max_size=2)),
        }
        for n in range(draw(st.integers(0, 3)))
    ]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    overrides = []
    for _ in range(draw(st.integers(0, 4))):
        start = base + dt.timedelta(hours=draw(st.integers(0, 24 * 400)))
        end = start + dt.timedelta(minutes=draw(st.integers(1, 60 * 24 * 10)))
        overrides.append({"who": draw(st.sampled_from(["o1", "o2"])), "from": start, "to": end})
    config = {
        "timezone": draw(st.sampled_from(ZONES)),
        "rotation": rotation(),
        "members": ["b0", "b1"],
        "layers": layers,
        "overrides": overrides,
    }
    return build("s", Schedule.model_validate(config))


@settings(max_examples=150, deadline=None)
@given(layered(), st.integers(0, 24 * 400), st.integers(1, 24 * 30))
def test_layered_schedules_with_overrides_tile_time_and_agree_with_who(
    schedule: OnCallSchedule, hours: int, length: int
) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hours)
    end = start + dt.timedelta(hours=length)
    found = shifts(schedule, start, end)
    assert (found[0].start, found[-1].end) == (start, end)
    for before, after in itertools.pairwise(found):
        assert before.end == after.start
        assert before.people != after.people
    for shift in found:
        middle = shift.start + (shift.end - shift.start) / 2
        for at in (shift.start, middle, shift.end - dt.timedelta(microseconds=1)):
            assert who(schedule, at) == list(shift.people)
