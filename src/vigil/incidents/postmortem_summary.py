"""A postmortem's first paragraph, in sentences a person would write: what failed and for how
long, who was paged and who answered, against the severity's targets, and how it ended — to be
corrected rather than started from nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vigil.incidents.model import Incident
from vigil.incidents.postmortem_timeline import Page

# Spelt out, not from strftime: a postmortem must not read differently under another locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MACHINE = (None, "vigil")


def day(moment: datetime) -> str:
    """``Thursday 15 January 2026``."""
    return f"{WEEKDAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def spoken(seconds: float) -> str:
    """``45 seconds``, ``4 minutes``, ``1 hour 5 minutes``, ``2 days 3 hours``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return _count(whole, "second")
    if whole < 3600:
        return _count(whole // 60, "minute")
    if whole < 86400:
        hours, minutes = whole // 3600, whole % 3600 // 60
        return _count(hours, "hour") + (f" {_count(minutes, 'minute')}" if minutes else "")
    days, hours = whole // 86400, whole % 86400 // 3600
    return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")


def summary(
    incident: Incident,
    end: datetime,
    targets: tuple[float | None, float | None],
    paged: Sequence[Page],
) -> str:
    """The summary of ``incident`` as of ``end``; ``targets`` are its level's acknowledge and
    resolve targets in seconds, ``paged`` whom its escalation paged."""
    return " ".join(
        part
        for part in (
            _window(incident, end),
            _answer(incident, targets[0], paged),
            _ending(incident, targets[1]),
        )
        if part
    )


def _window(incident: Incident, end: datetime) -> str:
    what = (
        f"{incident.check or incident.service} failed ({incident.reason})"
        if incident.reason
        else incident.title
    )
    start = incident.opened_at
    began = f"{start:%H:%M} UTC on {day(start)}"
    took = spoken((end - start).total_seconds())
    if incident.resolved_at is None:
        return f"{what} from {began}; the incident is still open, {took} on."
    other_day = f" on {day(end)}" if end.date() != start.date() else ""
    return f"{what} from {began} until {end:%H:%M} UTC{other_day}, {took} in all."


def _answer(incident: Incident, target: float | None, paged: Sequence[Page]) -> str:
    acker = incident.acknowledged_by
    if acker is None or incident.acknowledged_at is None:
        if not paged:
            return ""
        names = _names(paged)
        verb = "was" if len(paged) == 1 else "were"
        return f"{names} {verb} paged; nobody acknowledged it."
    took = (incident.acknowledged_at - incident.opened_at).total_seconds()
    against = _against(took, target, incident.severity)
    if not paged:
        return f"{acker} acknowledged it after {spoken(took)}{against}."
    first, rest = paged[0], [page for page in paged[1:] if page.at <= incident.acknowledged_at]
    if not rest:
        if first.who == acker:
            return f"{_named(first)} was paged and acknowledged it after {spoken(took)}{against}."
        return f"{_named(first)} was paged; {acker} acknowledged it after {spoken(took)}{against}."
    return (
        f"{_named(first)} was paged first; nobody answered, so the escalation went on to "
        f"{_names(rest)}, and {acker} acknowledged it after {spoken(took)}{against}."
    )


def _ending(incident: Incident, target: float | None) -> str:
    if incident.resolved_at is None:
        return ""
    if incident.resolved_by in MACHINE:
        if incident.check:
            return f"Vigil resolved it when {incident.check} passed again."
        if incident.key.startswith("alert:"):
            return f"Vigil resolved it when the alert {incident.key.split(':')[1]} stopped firing."
        return "Vigil resolved it."
    took = (incident.resolved_at - incident.opened_at).total_seconds()
    return (
        f"{incident.resolved_by} resolved it after {spoken(took)}{_against(took, target, incident.severity)}."
    )


def _against(took: float, target: float | None, severity: str) -> str:
    if target is None:
        return ""
    if took <= target:
        return f", within the {severity} target of {spoken(target)}"
    return f", {spoken(took - target)} past the {severity} target of {spoken(target)}"


def _named(page: Page) -> str:
    return f"{page.who} ({page.source})" if page.source and page.source != "channel" else page.who


def _names(pages: Sequence[Page]) -> str:
    named = [_named(page) for page in pages]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'s' if number != 1 else ''}"
