"""What the runbook says that the stack file has no place for yet: its ``- [ ]`` checklists,
and its on-call rotation, escalation, contacts, backups, rollback and scaling triggers. Each
is kept as a comment naming the runbook line, never dropped.
"""

from __future__ import annotations

import re

from vigil.runbooks.importer.document import Document, Place
from vigil.runbooks.importer.model import MAX_NOTES, Note, StackDraft, words

# (topic, words in the heading or lead that put an item under it); the first that fits wins.
TOPICS = (
    ("rollback triggers", re.compile(r"\brollback trigger|\bwhen to roll")),
    ("scaling triggers", re.compile(r"\bwhen to scale|\bscale (?:up|down)\b|\bautoscal")),
    ("on-call", re.compile(r"\bon-?call (?:schedule|rotation)|\brotation\b|\boncall\b|\bon-call procedures")),
    ("escalation", re.compile(r"\bescalat")),
    ("contacts", re.compile(r"\bcontacts?\b")),
    ("backups", re.compile(r"\bbackups?\b|\bretention\b|\bdisaster recovery\b")),
    ("SLAs", re.compile(r"\bslas?\b|\bservice level\b|\buptime target")),
)
# Read by other readers: external services (services), alerting lists (alerts).
_ELSEWHERE = ("external", "third-party", "vendor", "alert")


def _topic(place: Place) -> str | None:
    if place.says(*_ELSEWHERE):
        return None
    heading = " ".join(place.headings).lower()
    if place.says("when to use") and "rollback" in heading:
        return "rollback triggers"
    said = f"{place.heading} {place.lead}".lower()
    for topic, cue in TOPICS:
        if cue.search(said):
            return topic
    return None


def find(document: Document, draft: StackDraft) -> None:
    groups: dict[tuple[tuple[str, ...], str], list[Note]] = {}
    kept = 0
    drafted = {line for job in draft.backups.values() for line in job.lines}  # said in backups:
    for item in document.items:
        if item.line in drafted:
            continue
        if item.checked is not None:
            key = (item.place.headings, item.place.lead)
            if kept < MAX_NOTES:
                groups.setdefault(key, []).append(Note("checklist", item.line, words(item.text)))
                kept += 1
            else:
                draft.untold += 1
            continue
        topic = _topic(item.place)
        if topic is not None:
            draft.note(topic, item.line, item.text)
    for table in document.tables:
        topic = _topic(table.place)
        if topic is not None and table.column("sla") is None:
            for row in table.rows:
                draft.note(topic, row.line, row.words)
    for (headings, lead), items in groups.items():
        title = " > ".join([*headings[-2:], lead.rstrip(":")] if lead else headings[-2:])
        draft.checklists.append((title or "Checklist", items))
