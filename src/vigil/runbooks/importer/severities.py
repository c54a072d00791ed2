"""Severity levels from the runbook's table ("SEV1 | Complete outage … | 5 minutes | All hands"):
each level's response time becomes ``severities: {P1: {response: 5m}}``; what Vigil cannot
hold yet (who is escalated to) stays beside it as a comment.
"""

from __future__ import annotations

import re

from vigil.config.durations import format_duration
from vigil.runbooks.importer.document import Document
from vigil.runbooks.importer.model import StackDraft, words
from vigil.runbooks.importer.thresholds import severity

_TIME = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\b",
    re.I,
)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LONGEST = 30 * 86400.0  # a response target beyond a month is not a response target


def response_seconds(text: str) -> float | None:
    match = _TIME.search(text)
    if match is None:
        return None
    seconds = float(match["n"]) * _SECONDS[match["unit"][0].lower()]
    return seconds if 0 < seconds <= LONGEST else None


def find(document: Document, draft: StackDraft) -> None:
    for table in document.tables:
        level_column = table.column("level", "severity", "priority", "sev")
        time_column = table.column("response", "time to", "acknowledge")
        if level_column is None or time_column is None or level_column == time_column:
            continue
        for row in table.rows:
            level_text = row.cells.get(level_column, "")
            said = severity(level_text)
            if said is None or str(said[0]) in draft.severities:
                continue
            level = str(said[0])
            response = row.cells.get(time_column, "")
            details = [
                f"{h}: {c}" for h, c in row.cells.items() if h not in (level_column, time_column) and c
            ]
            why = draft.cite(row.line, f"{level_text}: " + "; ".join([f"response {response}", *details]))
            seconds = response_seconds(response)
            if seconds is None:
                draft.severities[level] = ({}, f"{why} — {response!r} is no duration; Vigil's default stays")
            else:
                draft.severities[level] = ({"response": format_duration(seconds)}, why)
            escalation = row.get("escalat", "notify", "contact", "owner", "who")
            if escalation:
                draft.note("escalation", row.line, f"{level_text} ({level}): escalate to {words(escalation)}")
