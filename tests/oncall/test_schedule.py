"""Schedule math against calendars worked out by hand, across the clock changes of 2026:

- Europe/London: BST from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
- America/New_York: EDT from Sunday 8 March 07:00 UTC to Sunday 1 November 06:00 UTC.

Every expected time below is UTC; a handoff at 09:00 local is 09:00Z in GMT and 08:00Z in
BST, 14:00Z in EST and 13:00Z in EDT.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vigil.config.oncall import Schedule
from vigil.oncall.schedule import Shift, build, handoffs, shifts, who


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def schedule(**config: Any) -> Any:
    return build("s", Schedule.model_validate(config))


def weekly(zone: str, start: str, members: list[str], handoff: str = "mon 09:00") -> Any:
    return schedule(
        timezone=zone, rotation={"every": "1w", "handoff": handoff, "start": start}, members=members
    )


def daily(zone: str, start: str, members: list[str], handoff: str = "09:00", every: str = "1d") -> Any:
    return schedule(
        timezone=zone, rotation={"every": every, "handoff": handoff, "start": start}, members=members
    )


def spans(found: list[Shift]) -> list[tuple[str, str, str]]:
    def z(at: dt.datetime) -> str:
        return at.strftime("%m-%d %H:%M")

    return [(z(s.start), z(s.end), ",".join(s.people)) for s in found]


def test_a_weekly_london_rotation_hands_off_at_0900_local_across_both_changes_of_clock() -> None:
    # Week k from Monday 5 January belongs to [alice, bob][k % 2]; 23 March is week 11 (bob).
    rota = weekly("Europe/London", "2026-01-05", ["alice", "bob"])
    assert spans(shifts(rota, utc("2026-03-23T09:00"), utc("2026-04-06T08:00"))) == [
        ("03-23 09:00", "03-30 08:00", "bob"),  # 167 hours: the clocks went forward
        ("03-30 08:00", "04-06 08:00", "alice"),
    ]
    # 19 October is week 41 (bob); the clocks go back on the 25th.
    assert spans(shifts(rota, utc("2026-10-19T08:00"), utc("2026-11-02T09:00"))) == [
        ("10-19 08:00", "10-26 09:00", "bob"),  # 169 hours
        ("10-26 09:00", "11-02 09:00", "alice"),
    ]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-03-30T07:59:59", ["bob"]),
        ("2026-03-30T08:00:00", ["alice"]),  # 09:00 BST
        ("2026-10-26T08:30:00", ["bob"]),  # 08:30 GMT: not yet 09:00
        ("2026-10-26T09:00:00", ["alice"]),
    ],
)
def test_who_is_on_call_around_the_london_handoffs(at: str, expected: list[str]) -> None:
    assert who(weekly("Europe/London", "2026-01-05", ["alice", "bob"]), utc(at)) == expected


def test_a_weekly_new_york_rotation_hands_off_at_0900_local_across_both_changes_of_clock() -> None:
    rota = weekly("America/New_York", "2026-03-02", ["alice", "bob"])
    assert spans(shifts(rota, utc("2026-03-02T14:00"), utc("2026-03-16T13:00"))) == [
        ("03-02 14:00", "03-09 13:00", "alice"),  # 09:00 EST to 09:00 EDT
        ("03-09 13:00", "03-16 13:00", "bob"),
    ]
    # 26 October is 238 days, week 34, after 2 March: alice.
    assert spans(shifts(rota, utc("2026-10-26T13:00"), utc("2026-11-09T14:00"))) == [
        ("10-26 13:00", "11-02 14:00", "alice"),
        ("11-02 14:00", "11-09 14:00", "bob"),
    ]


def test_a_daily_new_york_rotation_stays_at_0900_local_on_the_nights_the_clock_changes() -> None:
    rota = daily("America/New_York", "2026-03-06", ["a", "b", "c"])
    assert spans(shifts(rota, utc("2026-03-07T14:00"), utc("2026-03-10T13:00"))) == [
        ("03-07 14:00", "03-08 13:00", "b"),  # 23 hours
        ("03-08 13:00", "03-09 13:00", "c"),
        ("03-09 13:00", "03-10 13:00", "a"),
    ]
    # 31 October is day 239 after 6 March: 239 % 3 == 2, c.
    assert spans(shifts(rota, utc("2026-10-31T13:00"), utc("2026-11-03T14:00"))) == [
        ("10-31 13:00", "11-01 14:00", "c"),  # 25 hours
        ("11-01 14:00", "11-02 14:00", "a"),
        ("11-02 14:00", "11-03 14:00", "b"),
    ]


def test_a_daily_london_rotation_stays_at_0900_local_on_the_nights_the_clock_changes() -> None:
    rota = daily("Europe/London", "2026-03-27", ["x", "y"])
    assert spans(shifts(rota, utc("2026-03-27T09:00"), utc("2026-03-30T08:00"))) == [
        ("03-27 09:00", "03-28 09:00", "x"),
        ("03-28 09:00", "03-29 08:00", "y"),  # 23 hours
        ("03-29 08:00", "03-30 08:00", "x"),
    ]
    # 24 October is day 211 after 27 March: odd, y.
    assert spans(shifts(rota, utc("2026-10-24T08:00"), utc("2026-10-26T09:00"))) == [
        ("10-24 08:00", "10-25 09:00", "y"),  # 25 hours
        ("10-25 09:00", "10-26 09:00", "x"),
    ]


def test_a_twelve_hour_rotation_keeps_0900_and_2100_local_so_the_night_of_the_change_is_shorter() -> None:
    rota = daily("Europe/London", "2026-03-28", ["day", "night"], every="12h")
    assert spans(shifts(rota, utc("2026-03-28T09:00"), utc("2026-03-29T20:00"))) == [
        ("03-28 09:00", "03-28 21:00", "day"),
        ("03-28 21:00", "03-29 08:00", "night"),  # 21:00 GMT to 09:00 BST: 11 hours
        ("03-29 08:00", "03-29 20:00", "day"),
    ]


def test_a_handoff_inside_the_spring_forward_gap_is_read_with_the_offset_before_the_change() -> None:
    rota = daily("America/New_York", "2026-03-07", ["a", "b"], handoff="02:30")
    assert spans(shifts(rota, utc("2026-03-07T07:30"), utc("2026-03-09T06:30"))) == [
        ("03-07 07:30", "03-08 07:30", "a"),  # 02:30 EST; 02:30 on the 8th does not exist: 03:30 EDT
        ("03-08 07:30", "03-09 06:30", "b"),  # to 02:30 EDT
    ]


def test_a_weekly_handoff_starts_on_the_first_such_weekday_on_or_after_the_start_date() -> None:
    rota = weekly("UTC", "2026-01-01", ["alice", "bob"], handoff="wed 17:30")  # 1 January was a Thursday
    assert who(rota, utc("2026-01-07T17:29")) == []
    assert who(rota, utc("2026-01-07T17:30")) == ["alice"]
    assert who(rota, utc("2026-01-14T17:30")) == ["bob"]


LAYERED: dict[str, Any] = {
    "timezone": "Europe/London",
    "rotation": {"every": "1w", "handoff": "mon 09:00", "start": "2026-01-05"},
    "members": ["alice", "bob"],
    "layers": [
        # Weeknights: carol, from 18:00 to 09:00 the next morning.
        {
            "rotation": {"every": "1w", "handoff": "mon 09:00", "start": "2026-01-05"},
            "members": ["carol"],
            "restrict": ["mon-fri 18:00-09:00"],
        },
        # From February, dave takes Sundays over everyone below.
        {
            "rotation": {"every": "1w", "handoff": "mon 00:00", "start": "2026-02-01"},
            "members": ["dave"],
            "restrict": ["sun 00:00-24:00"],
        },
    ],
    "overrides": [{"who": "erin", "from": "2026-02-03T20:00:00Z", "to": "2026-02-03T22:00:00Z"}],
}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-02-03T12:00", ["alice"]),  # Tuesday of week 4: the base rotation
        ("2026-02-03T19:00", ["carol"]),  # a weeknight: the layer above
        ("2026-02-03T21:00", ["erin"]),  # the override beats every layer
        ("2026-02-03T22:00", ["carol"]),
        ("2026-02-07T08:59", ["carol"]),  # Friday's night runs into Saturday 09:00
        ("2026-02-07T09:00", ["alice"]),
        ("2026-02-07T20:00", ["alice"]),  # Saturday night is not restricted to carol
        ("2026-02-08T12:00", ["dave"]),  # Sunday, top layer
        ("2026-02-09T08:00", ["alice"]),  # Monday 08:00: Sunday has ended and no weeknight began on it
        ("2026-01-11T12:00", ["alice"]),  # a Sunday before dave's layer starts: the layers below show through
    ],
)
def test_layers_stack_with_the_later_one_on_top_where_it_has_someone(at: str, expected: list[str]) -> None:
    assert who(schedule(**LAYERED), utc(at)) == expected


def test_monday_before_0900_is_nobody_s_weeknight_so_the_base_rotation_answers() -> None:
    rota = schedule(**LAYERED)
    # carol's windows start Monday to Friday evenings: Sunday night into Monday is not one of them.
    assert who(rota, utc("2026-02-02T07:00")) == ["bob"]  # the base week from 26 January (week 3)


def test_the_final_schedule_of_a_layered_day_tiles_it_with_each_change_of_who() -> None:
    rota = schedule(**LAYERED)
    assert spans(shifts(rota, utc("2026-02-03T00:00"), utc("2026-02-04T00:00"))) == [
        ("02-03 00:00", "02-03 09:00", "carol"),  # Monday night
        ("02-03 09:00", "02-03 18:00", "alice"),
        ("02-03 18:00", "02-03 20:00", "carol"),
        ("02-03 20:00", "02-03 22:00", "erin"),
        ("02-03 22:00", "02-04 00:00", "carol"),
    ]


def test_overlapping_overrides_put_everyone_in_them_on_call_and_naive_times_are_local() -> None:
    rota = schedule(
        timezone="Europe/London",
        rotation={"every": "1w", "handoff": "mon 09:00", "start": "2026-01-05"},
        members=["alice"],
        overrides=[
            {"who": "erin", "from": "2026-07-01T10:00:00", "to": "2026-07-01T12:00:00"},  # BST
            {"who": "frank", "from": "2026-07-01T10:30:00Z", "to": "2026-07-01T11:30:00Z"},
        ],
    )
    assert who(rota, utc("2026-07-01T08:59")) == ["alice"]
    assert who(rota, utc("2026-07-01T09:00")) == ["erin"]  # 10:00 BST
    assert who(rota, utc("2026-07-01T10:45")) == ["erin", "frank"]
    assert who(rota, utc("2026-07-01T11:00")) == ["frank"]  # erin's 12:00 BST has passed
    assert who(rota, utc("2026-07-01T11:30")) == ["alice"]


def test_the_next_handoffs_are_the_shifts_that_start_after_the_instant() -> None:
    rota = weekly("Europe/London", "2026-01-05", ["alice", "bob"])
    found = handoffs(rota, utc("2026-03-25T12:00"), 3)
    assert spans(found) == [
        ("03-30 08:00", "04-06 08:00", "alice"),
        ("04-06 08:00", "04-13 08:00", "bob"),
        ("04-13 08:00", "04-20 08:00", "alice"),
    ]


def test_a_one_member_rotation_has_no_handoff_ahead() -> None:
    assert handoffs(weekly("UTC", "2026-01-05", ["solo"]), utc("2026-03-25T12:00"), 3) == []
