"""Maintenance windows stated in prose: "Sundays 2:00 AM - 4:00 AM UTC" becomes
``{name: sunday-maintenance, cron: "0 2 * * SUN", duration: 2h, timezone: UTC}``. Only text
about maintenance, downtime or a window counts: support hours are no maintenance window.
"""

from __future__ import annotations

import re

from vigil.config.durations import format_duration
from vigil.runbooks.importer.document import Document
from vigil.runbooks.importer.model import StackDraft

_DAY = r"(?:mon(?!th)|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_WINDOW = re.compile(
    rf"(?P<days>(?:every\s+)?{_DAY}(?:\s*(?:-|\u2013|to|through|and|,|&)\s*{_DAY})*|weekdays|weekends|daily|"
    r"every\s+day|nightly)[^\d\n]{0,20}?"
    r"(?P<start>\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)\s*(?:-|\u2013|\u2014|to|until)\s*"
    r"(?P<end>\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)",
    re.I,
)
ZONE = re.compile(r"^[\s(]*(?P<zone>UTC|GMT|Z|[ECMP]T|[A-Z]{2,4}T|CET|IST|[A-Z][a-z]+/[A-Za-z_]+)\b")
ZONES = {"UTC": "UTC", "GMT": "UTC", "Z": "UTC", "ET": "America/New_York", "EST": "America/New_York"}
ZONES |= {
    "EDT": "America/New_York",
    "CT": "America/Chicago",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
}
ZONES |= {"MST": "America/Denver", "MDT": "America/Denver", "PT": "America/Los_Angeles"}
ZONES |= {"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "CET": "Europe/Berlin"}
ZONES |= {"CEST": "Europe/Berlin", "BST": "Europe/London", "IST": "Asia/Kolkata", "JST": "Asia/Tokyo"}
ZONES |= {"AEST": "Australia/Sydney", "AEDT": "Australia/Sydney"}
_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_CONTEXT = ("maintenance", "downtime", "window")
MAX_WINDOWS = 20


def find(document: Document, draft: StackDraft) -> None:
    for line, text, place in sorted(document.words(), key=lambda found: found[0]):
        if len(draft.windows) >= MAX_WINDOWS:
            return
        if not (place.says(*_CONTEXT) or any(word in text.lower() for word in _CONTEXT)):
            continue
        for match in _WINDOW.finditer(text):
            _window(draft, line, text, match)


def _window(draft: StackDraft, line: int, text: str, match: re.Match[str]) -> None:
    start, end = minutes_of(match["start"], match["end"]), minutes_of(match["end"], match["end"])
    days = _days(match["days"])
    if start is None or end is None or days is None:
        return
    minutes = (end - start) % (24 * 60) or 24 * 60
    zone_match = ZONE.match(text[match.end() :])
    zone = ZONES.get(zone_match["zone"], zone_match["zone"]) if zone_match else "UTC"
    why = draft.cite(line, text)
    if zone_match is None:
        why += " — no time zone given: UTC assumed"
    label = days.split(",")[0].split("-")[0]
    base = {"*": "daily"}.get(label, _full(label))
    names = {w["name"] for w, _ in draft.windows}
    name, n = f"{base}-maintenance", 1
    while name in names:
        n += 1
        name = f"{base}-maintenance-{n}"
    if any(w["cron"] == f"{start % 60} {start // 60} * * {days}" for w, _ in draft.windows):
        return  # said again elsewhere
    window = {
        "name": name,
        "cron": f"{start % 60} {start // 60} * * {days}",
        "duration": format_duration(minutes * 60),
        "timezone": zone,
    }
    draft.windows.append((window, why))


def _full(day: str) -> str:
    return {"MON": "monday", "TUE": "tuesday", "WED": "wednesday", "THU": "thursday"}.get(
        day, {"FRI": "friday", "SAT": "saturday", "SUN": "sunday"}.get(day, "weekly")
    )


def minutes_of(text: str, fallback: str) -> int | None:
    """Minutes after midnight; "2" in "2 - 4 AM" takes its AM from the end."""
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*([ap])?\.?m?\.?", text.strip(), re.I)
    half = re.search(r"([ap])\.?m", fallback, re.I)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    meridiem = (match[3] or (half[1] if half else "")).lower()
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    return hour * 60 + minute if hour < 24 and minute < 60 else None


def _days(text: str) -> str | None:
    lower = text.lower().removeprefix("every").strip()
    if lower in ("daily", "day", "nightly"):
        return "*"
    if lower == "weekdays":
        return "MON-FRI"
    if lower == "weekends":
        return "SAT,SUN"
    found = [
        _NAMES[i]
        for word in re.findall(r"[a-z]+", lower)
        for i, d in enumerate(_NAMES)
        if word.startswith(d.lower())
    ]
    if not found:
        return None
    if re.search(r"\s*(?:-|\u2013|to|through)\s*", lower) and len(found) == 2:
        return f"{found[0]}-{found[1]}"
    return ",".join(dict.fromkeys(found))
