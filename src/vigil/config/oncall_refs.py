"""The references between ``people:``, ``oncall:`` and ``notify:``, checked over the whole file:
a member, override or page target who is not a person, a schedule or channel that does not
exist, a schedule nobody is ever on, an escalation that would loop with no wait, a calendar
file that is not iCalendar.

Read from the raw data, like the other whole-file checks of ``config.load``, so they are
reported together with every other fault of the file, each at its own line.
"""

from __future__ import annotations

import difflib
from pathlib import Path as FsPath
from typing import Any

from vigil.config.source import Source
from vigil.config.yaml_places import Path, shown
from vigil.errors import ConfigFault


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Names:
    """Known names of one kind, and how an unknown one is told."""

    def __init__(self, kind: str, names: list[str], plural: str) -> None:
        self.kind, self.names, self.plural = kind, names, plural

    def unknown(self, name: Any) -> str | None:
        if not isinstance(name, str) or name in self.names:
            return None
        message = f"unknown {self.kind} {shown(name)}"
        close = difflib.get_close_matches(name, self.names[:1000], n=1)
        if close:
            return f"{message}; did you mean {close[0]!r}?"
        listed = ", ".join(map(shown, self.names[:10])) or "none"
        more = ", …" if len(self.names) > 10 else ""
        return f"{message}; the {self.plural} are: {listed}{more}"


def oncall_faults(source: Source) -> list[ConfigFault]:
    data = _mapping(source.data)
    oncall = _mapping(data.get("oncall"))
    schedules = _mapping(oncall.get("schedules"))
    known = {
        "person": _Names("person", list(_mapping(data.get("people"))), "people"),
        "schedule": _Names("schedule", list(schedules), "schedules"),
        "channel": _Names(
            "channel", list(_mapping(_mapping(data.get("notify")).get("channels"))), "channels"
        ),
    }
    faults: list[ConfigFault] = []

    def refer(path: Path, kind: str, name: Any) -> None:
        message = known[kind].unknown(name)
        if message:
            faults.append(source.fault(path, message))

    for name, schedule in schedules.items():
        if not isinstance(schedule, dict):
            continue
        at: Path = ("oncall", "schedules", name)
        layers = _listed(schedule.get("layers"))
        for i, member in enumerate(_listed(schedule.get("members"))):
            refer((*at, "members", i), "person", member)
        for j, layer in enumerate(layers):
            for i, member in enumerate(_listed(_mapping(layer).get("members"))):
                refer((*at, "layers", j, "members", i), "person", member)
        for i, override in enumerate(_listed(schedule.get("overrides"))):
            refer((*at, "overrides", i, "who"), "person", _mapping(override).get("who"))
        someone = _listed(schedule.get("members")) or any(_listed(_mapping(x).get("members")) for x in layers)
        ical = schedule.get("ical")
        if not someone and not ical:
            where = (*at, "members") if "members" in schedule else at
            faults.append(
                source.fault(where, "a schedule needs members (or layers with members, or an ical: calendar)")
            )
        if isinstance(ical, str) and not ical.startswith(("http://", "https://")):
            faults += _calendar_faults(source, (*at, "ical"), ical)
    for name, policy in _mapping(oncall.get("escalation")).items():
        at = ("oncall", "escalation", name)
        steps = _listed(_mapping(policy).get("steps"))
        for i, step in enumerate(steps):
            for j, target in enumerate(_listed(_mapping(step).get("notify"))):
                kind, _, target_name = str(target).partition(":")
                if kind in known:
                    refer((*at, "steps", i, "notify", j), kind, target_name)
        faults += _loop_faults(source, at, _mapping(policy), steps)
    return faults


def _loop_faults(source: Source, at: Path, policy: dict[str, Any], steps: list[Any]) -> list[ConfigFault]:
    """A policy that repeats with no wait anywhere would page everyone in it again and again at once."""
    from vigil.config.durations import parse_duration

    repeat = policy.get("repeat", 0)
    if not isinstance(repeat, int) or repeat <= 0 or not steps:
        return []
    total = 0.0
    for step in steps:
        try:
            total += parse_duration(_mapping(step).get("wait", 0))
        except ValueError:
            return []  # reported at the wait itself
    if total > 0:
        return []
    return [
        source.fault(
            (*at, "repeat"),
            f"the policy repeats {repeat} time{'s' if repeat != 1 else ''} with no wait: "
            "give a step a wait (e.g. wait: 15m) so someone can acknowledge before it pages again",
        )
    ]


def _calendar_faults(source: Source, at: Path, ical: str) -> list[ConfigFault]:
    """A calendar file is read now, so a file that is missing or not iCalendar is told by
    ``vigil validate`` at its line, not found out when a page goes to nobody."""
    from vigil.oncall.ical import CalendarError, read_file

    people = _mapping(_mapping(source.data).get("people"))
    try:
        read_file(calendar_path(source.file, ical), people, where=ical)
    except CalendarError as err:
        return [source.fault(at, str(err))]
    return []


def calendar_path(stack_file: str, ical: str) -> FsPath:
    """A calendar file named relative to the stack file's folder (or absolute)."""
    return FsPath(stack_file).parent / FsPath(ical).expanduser()
