"""What a runbook says about a backup, in its own words: when it runs ("daily at 02:00", a
crontab line), how long copies are kept ("keep 7 days", "the last 14 backups"), how it is
checked ("restore into a test database", ``pg_restore --list``) and its objectives ("RPO: 1 hour").
Each reader takes one piece of text and answers the stack file's value, or None.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from vigil.config.cron import next_moment
from vigil.config.durations import format_duration
from vigil.runbooks.importer.windows import ZONE, ZONES, minutes_of

_CRON = re.compile(r"^\s*(?P<cron>@(?:hourly|daily|midnight|weekly)|(?:[\d*/,-]+\s+){4}[\d*/,A-Za-z-]+)\s+\S")
_AT = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0"}
_EVERY = re.compile(
    r"\b(?P<how>hourly|every\s+hour|daily|nightly|every\s+(?:day|night)|weekly|every\s+week"
    r"|every\s+(?P<n>\d{1,2})\s+hours?|(?:every\s+)?(?P<day>(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day)s?)\b"
    r"(?:[^.\n\d]{0,30}?\bat\s+(?P<time>\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?))?",
    re.I,
)
_KEEP = re.compile(
    r"\b(?:keep(?:s|ing)?|kept|retain(?:s|ed)?|retention|last)\b[^.\n\d]{0,30}?(?P<n>\d{1,5})\s*"
    r"(?:(?:daily|weekly|nightly|most\s+recent)\s+)?"
    r"(?P<unit>days?|weeks?|months?|hours?|backups?|copies|snapshots?|dumps?|versions?)\b",
    re.I,
)
_SPAN = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
_RESTORE = re.compile(
    r"\brestor\w*\b[^.\n]{0,40}?\b(?:test|scratch|staging|temporary|throwaway|verif\w*)\b"
    r"|\bpg_restore\b[^\n]*?(?:-d|--dbname)[\s=]+\S*(?:test|scratch|verify|tmp)",
    re.I,
)
_LIST = re.compile(
    r"\bpg_restore\s+(?:-l|--list)\b|\bintegrity_check\b|\bverify\w*\b[^.\n]{0,30}\bbackup", re.I
)
_OBJECTIVE = (
    r"[^\d\n]{0,30}?(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|[smhd])\b"
)
RPO = re.compile(r"\b(?:RPO|recovery\s+point(?:\s+objective)?)\b" + _OBJECTIVE, re.I)
RTO = re.compile(r"\b(?:RTO|recovery\s+time(?:\s+objective)?)\b" + _OBJECTIVE, re.I)
_UNIT = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600, "hour": 3600}
_UNIT |= {"d": 86400, "day": 86400}


def cron_of(code: str, command: re.Pattern[str]) -> str | None:
    """The cron expression of a crontab line in ``code`` that runs ``command``."""
    for line in code.splitlines():
        match = _CRON.match(line)
        if match and command.search(line):
            return _AT.get(match["cron"], match["cron"])
    return None


def schedule_of(text: str) -> tuple[str, str, bool] | None:
    """(cron, time zone, whether the time was given) from "daily at 2:00 AM UTC", "every 6 hours"."""
    match = _EVERY.search(text)
    if match is None:
        return None
    how = match["how"].lower()
    minutes = minutes_of(match["time"], match["time"]) if match["time"] else None
    given = minutes is not None
    minutes = 2 * 60 if minutes is None else minutes
    at = f"{minutes % 60} {minutes // 60}"
    zone_match = ZONE.match(text[match.end() :]) if given else None
    zone = ZONES.get(zone_match["zone"], zone_match["zone"]) if zone_match else "UTC"
    if match["n"]:
        return f"0 */{int(match['n'])} * * *", zone, True
    if "hour" in how:
        return "0 * * * *", zone, True
    if match["day"]:
        return f"{at} * * {match['day'][:3].upper()}", zone, given
    if "week" in how:
        return f"{at} * * SUN", zone, given
    return f"{at} * * *", zone, given


def keep_of(text: str) -> dict[str, object] | None:
    match = _KEEP.search(text)
    if match is None or int(match["n"]) < 1:
        return None
    unit = match["unit"].lower().rstrip("s")
    if unit in _SPAN:
        return {"age": span(int(match["n"]) * _SPAN[unit])}
    return {"count": int(match["n"])}


def verify_of(text: str) -> str | None:
    """restore when the text restores into a database of its own to check, list when it lists."""
    if _RESTORE.search(text):
        return "restore"
    return "list" if _LIST.search(text) else None


def objective(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    unit = match["unit"].lower()
    unit = unit if unit in _UNIT else unit.rstrip("s")
    seconds = float(match["n"]) * _UNIT.get(unit, 0)
    return span(seconds) if seconds > 0 else None


def rpo_for(cron: str, zone: str) -> str:
    """An RPO the runbook did not state: the schedule's longest gap between backups and an hour."""
    moments = [datetime(2026, 1, 5, tzinfo=UTC)]
    for _ in range(8):
        moments.append(next_moment(cron, zone, moments[-1]))
    gap = max((b - a).total_seconds() for a, b in itertools.pairwise(moments[1:]))
    return span(gap + 3600)


def span(seconds: float) -> str:
    """A duration as people write it in a stack file: 7d, 1d1h, 30m."""
    days, rest = divmod(seconds, 86400)
    if days >= 2 or (days and not rest):
        return f"{int(days)}d" + (format_duration(rest) if rest else "")
    return format_duration(seconds)
