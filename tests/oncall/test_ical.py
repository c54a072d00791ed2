"""iCalendar out and in: the feed parses with ``icalendar`` and has the shifts' real boundaries;
a calendar a team brings along becomes the schedule's shifts; what is not a calendar is refused."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import icalendar
import pytest

from tests.oncall.stacks import OPSGENIE_EXPORT
from vigil.config.load import parse_stack
from vigil.config.oncall import Person, Schedule
from vigil.oncall import ical
from vigil.oncall.ical import CalendarError, feed, read_file, read_shifts
from vigil.oncall.schedule import build, who
from vigil.oncall.service import OnCall

LONDON_WEEKLY = Schedule.model_validate(
    {
        "timezone": "Europe/London",
        "rotation": {"every": "1w", "handoff": "mon 09:00", "start": "2026-01-05"},
        "members": ["alice", "bob"],
        "overrides": [{"who": "erin", "from": "2026-03-31T12:00:00Z", "to": "2026-04-01T12:00:00Z"}],
    }
)
PEOPLE = {
    "alice": Person(notify=["mailto://alice@example.com"], name="Alice Smith"),
    "bob": Person(notify=["ntfy://ntfy.sh/bob"], email="bob@example.org"),
    "erin": Person(notify=["mailto://erin@example.com"]),
}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def events(document: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(document).walk("VEVENT"))


def test_the_feed_has_one_event_per_shift_with_the_real_boundaries_across_the_clock_change() -> None:
    now = utc("2026-03-25T12:00")
    document = feed(build("primary", LONDON_WEEKLY), PEOPLE, now, ahead=dt.timedelta(weeks=2))
    found = [(e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"])) for e in events(document)]
    assert found == [
        # The past week: the shift that held a week ago, from its real start (Monday 16 March).
        (utc("2026-03-16T09:00"), utc("2026-03-23T09:00"), "On call (primary): Alice Smith"),
        (utc("2026-03-23T09:00"), utc("2026-03-30T08:00"), "On call (primary): bob"),
        (utc("2026-03-30T08:00"), utc("2026-03-31T12:00"), "On call (primary): Alice Smith"),
        (utc("2026-03-31T12:00"), utc("2026-04-01T12:00"), "On call (primary): erin"),
        (utc("2026-04-01T12:00"), utc("2026-04-06T08:00"), "On call (primary): Alice Smith"),
        (utc("2026-04-06T08:00"), utc("2026-04-08T12:00"), "On call (primary): bob"),  # the horizon
    ]
    first = events(document)[0]
    assert first["UID"] == "primary-20260316T090000Z@vigil"
    # alice has no email: key; the address in her notify URL is not published (it may be a secret).
    assert str(first["ATTENDEE"]) == "urn:vigil:person:alice"
    assert first["ATTENDEE"].params["CN"] == "Alice Smith"
    assert str(events(document)[1]["ATTENDEE"]) == "mailto:bob@example.org"


def test_a_shift_keeps_its_uid_from_one_fetch_to_the_next() -> None:
    schedule = build("primary", LONDON_WEEKLY)
    earlier = {str(e["UID"]) for e in events(feed(schedule, PEOPLE, utc("2026-03-25T12:00")))}
    later = {str(e["UID"]) for e in events(feed(schedule, PEOPLE, utc("2026-03-26T18:00")))}
    assert "primary-20260330T080000Z@vigil" in earlier & later


def test_the_feed_read_back_gives_the_same_shifts() -> None:
    schedule = build("primary", LONDON_WEEKLY)
    now = utc("2026-03-25T12:00")
    shifts = read_shifts(feed(schedule, PEOPLE, now), PEOPLE)
    again = build("copy", Schedule.model_validate({"timezone": "Europe/London", "ical": "x.ics"}), shifts)
    for hour in range(0, 24 * 7 * 8, 5):
        at = now - dt.timedelta(days=6) + dt.timedelta(hours=hour)
        assert who(again, at) == who(schedule, at), at


def test_an_exported_calendar_becomes_shifts_by_attendee_summary_and_recurrence(tmp_path: Path) -> None:
    path = tmp_path / "rota.ics"
    path.write_text(OPSGENIE_EXPORT)
    found = [(s.start, s.end, s.people) for s in read_file(path, PEOPLE, Schedule().zone)]
    assert found == [
        (utc("2026-03-02T09:00"), utc("2026-03-09T09:00"), ("bob",)),  # ATTENDEE by email, any case
        (utc("2026-03-09T09:00"), utc("2026-03-16T09:00"), ("alice",)),  # a word of the SUMMARY
        (utc("2026-03-16T00:00"), utc("2026-03-17T00:00"), ("alice", "erin")),  # a whole day; name, email
        (utc("2026-04-01T08:00"), utc("2026-04-01T20:00"), ("erin",)),  # RRULE, three times
        (utc("2026-04-02T08:00"), utc("2026-04-02T20:00"), ("erin",)),
        (utc("2026-04-03T08:00"), utc("2026-04-03T20:00"), ("erin",)),
    ]  # the team lunch names nobody and is no shift


def test_a_schedule_takes_its_shifts_from_a_calendar_file_next_to_the_stack_file(tmp_path: Path) -> None:
    (tmp_path / "rota.ics").write_text(OPSGENIE_EXPORT)
    text = textwrap.dedent(
        """
        people:
          alice: {notify: ["mailto://alice@example.com"], name: Alice Smith}
          bob: {notify: ["mailto://bob@example.org"]}
          erin: {notify: ["mailto://erin@example.com"]}
        oncall:
          schedules:
            imported: {timezone: Europe/London, ical: rota.ics}
        """
    )
    oncall = OnCall(parse_stack(str(tmp_path / "vigil.yaml"), text, {}))
    assert oncall.who("imported", utc("2026-03-05T12:00")) == ["bob"]
    assert oncall.who("imported", utc("2026-03-16T12:00")) == ["alice", "erin"]
    assert oncall.who("imported", utc("2026-03-20T12:00")) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, world\n", "is not an iCalendar file: it does not begin with BEGIN:VCALENDAR"),
        (b"", "is not an iCalendar file"),
        (b"BEGIN:VCALENDAR\r\nthis is not a content line\r\n", "is not a valid iCalendar file: "),
        (
            OPSGENIE_EXPORT.replace("alice", "zed")
            .replace("Alice Smith", "Zed")
            .replace("erin", "z")
            .replace("BOB", "x")
            .encode(),
            "no event in rota.ics names a person of people:",
        ),
    ],
)
def test_a_file_that_is_not_a_usable_calendar_is_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        read_shifts(data, PEOPLE, where="rota.ics")


def test_a_calendar_is_bounded_in_size_and_in_events() -> None:
    with pytest.raises(CalendarError, match="over 5,000,000 bytes"):
        read_shifts(b"BEGIN:VCALENDAR\r\n" + b"X" * ical.MAX_BYTES, PEOPLE)
    event = (
        "BEGIN:VEVENT\r\nDTSTART:20260101T000000Z\r\nDTEND:20260101T010000Z\r\nSUMMARY:bob\r\nEND:VEVENT\r\n"
    )
    many = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{event * (ical.MAX_EVENTS + 1)}END:VCALENDAR\r\n"
    with pytest.raises(CalendarError, match="has 10,001 events; a calendar may have at most 10,000"):
        read_shifts(many.encode(), PEOPLE)
    endless = event.replace("SUMMARY", "RRULE:FREQ=HOURLY\r\nSUMMARY")
    found = read_shifts(f"BEGIN:VCALENDAR\r\n{endless}END:VCALENDAR\r\n".encode(), PEOPLE)
    assert len(found) == ical.MAX_OCCURRENCES  # a rule with no end is cut off
