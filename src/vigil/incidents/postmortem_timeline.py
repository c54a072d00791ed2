"""A postmortem's timeline as a person would write it: the story, not the log.

Deliveries are left out (who was paged is the story, not each channel's receipt); lines Vigil
repeats — a dependent check failing and passing again, each page of an escalation round, a
channel that keeps failing, a hold — are written once, with how many times and until when; an
escalation's page reads ``paged alice (schedule primary), step 1 of 3`` and the pages are also
gathered as who was paged, when, in what order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.incidents.model import EventKind, TimelineEntry

LIMIT = 100  # lines shown; the incident page has them all
# Vigil's own lines that come again and again while an incident lasts; a person's never fold.
FOLDED = frozenset(
    {
        EventKind.SYMPTOM,
        EventKind.ESCALATED,
        EventKind.NOTIFY_FAILED,
        EventKind.SUPPRESSED,
        EventKind.FLAPPING,
    }
)
MACHINE = (None, "vigil")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# ``paged alice (schedule primary) via mailto://… (step 1 of 3, round 1 of 2, policy default)``
PAGED = re.compile(
    r"^paged (?P<who>\S+)(?: \((?P<source>schedule [^)]+|channel)\))?(?: via \S+)?"
    r" \(step (?P<step>\d+) of (?P<steps>\d+), round (?P<round>\d+) of \d+, policy (?P<policy>[^)]+)\)$"
)

When = Callable[[datetime], str]


@dataclass
class _Line:
    entry: TimelineEntry
    text: str
    times: int = 1
    last: datetime | None = None


@dataclass(frozen=True)
class Page:
    who: str
    source: str | None  # "schedule primary", "channel", or None for a person paged by name
    step: int
    at: datetime
    times: int


def condensed(entries: Sequence[TimelineEntry], when: When) -> tuple[list[dict[str, Any]], int]:
    """The lines to show (``at``, ``kind``, ``actor``, ``text``, ``times``, ``until``) and how
    many more there were past ``LIMIT``."""
    lines: list[_Line] = []
    seen: dict[tuple[str, str], _Line] = {}
    for entry in entries:
        if entry.kind is EventKind.NOTIFIED:
            continue
        text = _plain(entry)
        if _folds(entry):
            key = (str(entry.kind), NUMBER.sub("#", text))
            if (earlier := seen.get(key)) is not None:
                earlier.times += 1
                earlier.last = entry.at
                continue
            seen[key] = line = _Line(entry, text)
        else:
            line = _Line(entry, text)
        lines.append(line)
    shown = [
        {
            "at": when(line.entry.at),
            "kind": str(line.entry.kind),
            "actor": line.entry.actor,
            "text": line.text,
            "times": line.times,
            "until": when(line.last) if line.last else None,
        }
        for line in lines[:LIMIT]
    ]
    return shown, max(0, len(lines) - LIMIT)


def pages(entries: Sequence[TimelineEntry]) -> tuple[list[Page], str | None]:
    """Who the escalation paged, in the order first paged, and its policy (None: no escalation)."""
    found: dict[str, Page] = {}
    policy = None
    for entry in entries:
        match = PAGED.match(entry.text) if entry.kind is EventKind.ESCALATED else None
        if match is None:
            continue
        policy = match["policy"]
        who = match["who"]
        if who in found:
            earlier = found[who]
            found[who] = Page(who, earlier.source, earlier.step, earlier.at, earlier.times + 1)
        else:
            found[who] = Page(who, match["source"], int(match["step"]), entry.at, 1)
    return list(found.values()), policy


def _folds(entry: TimelineEntry) -> bool:
    return entry.kind in FOLDED or (entry.kind is EventKind.NOTE and entry.actor in MACHINE)


def _plain(entry: TimelineEntry) -> str:
    """An escalation's page without the contact's scheme or the policy (both said elsewhere)."""
    match = PAGED.match(entry.text) if entry.kind is EventKind.ESCALATED else None
    if match is None:
        return entry.text
    source = f" ({match['source']})" if match["source"] else ""
    return f"paged {match['who']}{source}, step {match['step']} of {match['steps']}"
