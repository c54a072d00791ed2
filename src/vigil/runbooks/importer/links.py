"""Which of the runbook's "Issue: …" sections a check or an alert rule should point its
responder at: the section whose title uses the rule's words ("502", "slow", "celery"), its
prose counting for less. No title match, no link: a wrong section costs more than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from vigil.runbooks.model import Runbook, Section

_ISSUE = re.compile(r"issue|problem|incident|error|fail|slow|down|not |broken|outage|troubleshoot|fix", re.I)
_TITLE_WEIGHT = 3


@dataclass(frozen=True)
class _Candidate:
    section: Section
    title: str
    text: str


class Issues:
    """The runbook's issue sections, lower-cased once: a large runbook has thousands."""

    def __init__(self, runbook: Runbook, file: str) -> None:
        self.file = PurePosixPath(file).name
        by_id = {s.id: s for s in runbook.sections}
        self.candidates: list[_Candidate] = []
        for section in runbook.sections:
            parent = by_id.get(section.parent or "")
            if not section.slug:
                continue
            titled = _ISSUE.search(section.title) or (parent is not None and _ISSUE.search(parent.title))
            if titled and (section.is_procedure or section.title.lower().startswith("issue")):
                self.candidates.append(_Candidate(section, section.title.lower(), section.text.lower()))
        self.cache: dict[tuple[str, ...], str | None] = {}

    def best(self, cues: tuple[str, ...]) -> str | None:
        """``file.md#slug`` of the section that fits ``cues`` best, or None when none does."""
        if not cues:
            return None
        if cues not in self.cache:
            scored = [(self._score(c, cues), -i, c) for i, c in enumerate(self.candidates)]
            fitting = [entry for entry in scored if entry[0] >= _TITLE_WEIGHT]
            self.cache[cues] = f"{self.file}#{max(fitting)[2].section.slug}" if fitting else None
        return self.cache[cues]

    @staticmethod
    def _score(candidate: _Candidate, cues: tuple[str, ...]) -> int:
        return sum(_TITLE_WEIGHT * (cue in candidate.title) + (cue in candidate.text) for cue in cues)
