"""iCalendar in and out: a feed of each schedule's shifts that calendar apps subscribe to, and
shifts read from a calendar a team brings along (an Opsgenie or Grafana OnCall export).

Reading takes each VEVENT as a shift of the people it names: by ATTENDEE (their ``email:``,
or the address of a plain ``mailto://user@host`` notify URL, or the attendee's CN equal to
their name or display name), else by SUMMARY (a word equal to a person's name, or their
display name or email within it). Events naming nobody are skipped; a calendar where no event
names anyone is an error, since the schedule would page no one. A recurring event (RRULE) is
expanded for at most ``MAX_OCCURRENCES`` occurrences. Sizes and counts are bounded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rrulestr

from vigil.config import bounded_read
from vigil.errors import VigilError
from vigil.oncall.schedule import UTC, OnCallSchedule, Shift, shifts

MAX_BYTES = 5_000_000
MAX_EVENTS = 10_000
MAX_OCCURRENCES = 1_000
UTC_ZONE = ZoneInfo("UTC")
EPOCH = dt.datetime(2000, 1, 3, tzinfo=dt.UTC)  # a Monday
ANCHOR_GRID = dt.timedelta(weeks=4)
PRODID = "-//Vigil//On-call schedule//EN"
_PLAIN_MAILTO = re.compile(r"^mailto://([^:@/?\s]+@[^:/?\s]+)/?$", re.IGNORECASE)


class CalendarError(VigilError):
    """A calendar that cannot be used as a schedule's shifts; the message says which and why."""

    exit_code = 2
    status_code = 422


def read_file(
    path: Path, people: Mapping[str, Any], zone: ZoneInfo = UTC_ZONE, *, where: str | None = None
) -> list[Shift]:
    shown = where or str(path)
    data = bounded_read.read_file(path, MAX_BYTES, "calendar", CalendarError, shown)
    return read_shifts(data, people, zone, where=shown)


def read_shifts(
    data: bytes, people: Mapping[str, Any], zone: ZoneInfo = UTC_ZONE, *, where: str = "the calendar"
) -> list[Shift]:
    """The shifts of an iCalendar document; ``people`` maps names to ``Person`` models or to
    their raw stack-file mappings (``vigil validate`` reads the calendar before the models exist)."""
    if len(data) > MAX_BYTES:
        raise CalendarError(f"{where} is over {MAX_BYTES:,} bytes, the most a calendar may have")
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR"):
        raise CalendarError(f"{where} is not an iCalendar file: it does not begin with BEGIN:VCALENDAR")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as err:
        first = str(err).splitlines()[0][:200]
        raise CalendarError(f"{where} is not a valid iCalendar file: {first}") from None
    events = list(calendar.walk("VEVENT"))
    if len(events) > MAX_EVENTS:
        raise CalendarError(f"{where} has {len(events):,} events; a calendar may have at most {MAX_EVENTS:,}")
    match = _Matcher(people)
    out: list[Shift] = []
    for event in events:
        named = match(event)
        if named:
            out += [Shift(start, end, named) for start, end in _spans(event, zone)]
            if len(out) > MAX_EVENTS:
                raise CalendarError(
                    f"{where} expands to over {MAX_EVENTS:,} shifts, the most a calendar may have"
                )
    if events and not out:
        raise CalendarError(
            f"no event in {where} names a person of people: (by ATTENDEE email or name, or in its SUMMARY)"
        )
    return out


class _Matcher:
    def __init__(self, people: Mapping[str, Any]) -> None:
        self.by_word: dict[str, str] = {}
        self.by_phrase: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        for key, person in people.items():
            name, email, urls = _fields(person)
            self.by_word[key.lower()] = key
            if name:
                self.by_phrase[name.lower()] = key
            for address in [email, *(m[1] for u in urls if (m := _PLAIN_MAILTO.match(u)))]:
                if address:
                    self.by_email[address.lower()] = key

    def __call__(self, event: icalendar.cal.Component) -> tuple[str, ...]:
        found: list[str] = []
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            address = str(attendee).lower().removeprefix("mailto:")
            cn = str(getattr(attendee, "params", {}).get("CN", "")).lower()
            key = self.by_email.get(address) or self.by_phrase.get(cn) or self.by_word.get(cn)
            if key:
                found.append(key)
        if not found:
            summary = str(event.get("SUMMARY", "")).lower()[:500]
            words = set(re.findall(r"[a-z0-9][a-z0-9_-]*", summary))
            found += [key for word, key in self.by_word.items() if word in words]
            found += [
                key for text, key in (*self.by_phrase.items(), *self.by_email.items()) if text in summary
            ]
        return tuple(dict.fromkeys(found))


def _fields(person: Any) -> tuple[str | None, str | None, list[str]]:
    if isinstance(person, Mapping):
        urls = person.get("notify")
        return (
            _text(person.get("name")),
            _text(person.get("email")),
            [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else [],
        )
    return person.name, person.email, list(person.notify)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _spans(event: icalendar.cal.Component, zone: ZoneInfo) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    if "DTSTART" not in event:
        return []
    raw_start = event.decoded("DTSTART")
    start = _instant(raw_start, zone)
    if "DTEND" in event:
        end = _instant(event.decoded("DTEND"), zone)
    elif "DURATION" in event:
        end = start + event.decoded("DURATION")
    else:  # RFC 5545: a date lasts its day; a date-time with no end is an instant, no shift
        end = start + dt.timedelta(days=1) if not isinstance(raw_start, dt.datetime) else start
    if end <= start:
        return []
    if "RRULE" not in event:
        return [(start, end)]
    rule = event["RRULE"].to_ical()
    rule = rule.decode() if isinstance(rule, bytes) else str(rule)
    first = raw_start if isinstance(raw_start, dt.datetime) else dt.datetime.combine(raw_start, dt.time())
    if first.tzinfo is None:
        first = first.replace(tzinfo=zone)
    length = end - start
    occurrences = rrulestr(rule, dtstart=first, cache=False)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for occurrence in occurrences:
        if len(spans) >= MAX_OCCURRENCES:
            break
        spans.append((occurrence.astimezone(UTC), occurrence.astimezone(UTC) + length))
    return spans


def _instant(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """An event's time in UTC: a floating time or a whole day is read in the schedule's zone."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def feed(
    schedule: OnCallSchedule,
    people: Mapping[str, Any],
    now: dt.datetime,
    *,
    before: dt.timedelta = dt.timedelta(days=7),
    ahead: dt.timedelta = dt.timedelta(weeks=12),
    redact: Callable[[str], str] = str,
) -> bytes:
    """The schedule's shifts from ``before`` ago to ``ahead`` as an iCalendar document: one
    VEVENT per shift (a shift of several people names them all, as ATTENDEEs by their
    ``email:`` unless it is a secret, else ``urn:vigil:person:NAME``, with their display name
    as CN), in UTC; ``redact`` masks the secrets of the stack file."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {schedule.name}")
    calendar.add("x-wr-timezone", schedule.zone.key)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    # Read from a point fixed for four weeks at a time, well before the horizon, so that the
    # first shift shown keeps its real start (and so its UID) from one fetch to the next.
    anchor = EPOCH + ((now - before - EPOCH) // ANCHOR_GRID - 1) * ANCHOR_GRID
    for shift in shifts(schedule, anchor, now + ahead):
        if not shift.people or shift.end <= now - before:
            continue
        # Masked before writing: iCalendar folds long lines, which would split a secret past
        # the redactor that every answer passes through.
        shown = [redact(_fields(people[p])[0] or p) if p in people else p for p in shift.people]
        event = icalendar.Event()
        event.add("uid", f"{schedule.name}-{shift.start:%Y%m%dT%H%M%SZ}@vigil")
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call ({schedule.name}): {', '.join(shown)}")
        for key, name in zip(shift.people, shown, strict=True):
            email = _email(people.get(key))
            email = email if email and redact(email) == email else None
            address = icalendar.vCalAddress(f"mailto:{email}" if email else f"urn:vigil:person:{key}")
            address.params["cn"] = icalendar.vText(name)
            event.add("attendee", address, encode=False)
        calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document


def _email(person: Any) -> str | None:
    """Only an ``email:`` given as such is published: an address inside a notify URL may be a
    secret from the environment, and the redactor would not know it in another form."""
    return None if person is None else _fields(person)[1]
