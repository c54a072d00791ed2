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
