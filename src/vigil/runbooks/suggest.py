"""The runbook sections to try first on an incident: the one its check or alert rule names
(``runbook: production.md#issue-502-bad-gateway``), then the best ranked by what the incident
says about itself — the alert's name (``HighErrorRate`` → high error rate), its labels and
summary as its trigger line carries them, its title, and the probe's reason (``connection
refused``, ``status 502``).

Suggestions are worked out when asked (the API, the incident page, the page sent when it
opens), not stored: a runbook improved and Vigil restarted suggests better at once. They are
kept per incident in a bounded cache, since the incident page asks every time it is loaded.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.config.stack import StackFile
from vigil.errors import VigilError
from vigil.incidents.model import EventKind, Incident, TimelineEntry
from vigil.runbooks.library import Library
from vigil.runbooks.model import Section
from vigil.runbooks.search import SectionIndex, terms

log = logging.getLogger("vigil.runbooks")

SUGGESTED = 3
CACHED = 1_024
# A section that only describes (a table of endpoints, a list of contacts) can still be the
# best answer, but one with steps to run is worth more to a responder at 3 a.m.
PROSE_FACTOR = 0.5
_CANDIDATES = 12
_ANCHOR = re.compile(r"[^A-Za-z0-9_-]+")
_ADDRESS = re.compile(r"runbook:\s*\S+")


@dataclass(frozen=True)
class Suggestion:
    section: Section
    why: str  # "named by the check api.health", "named by alert HighErrorRate", "matches …"
    score: float | None = None  # None for a section named by the check or the rule

    @property
    def anchor(self) -> str:
        """Where the incident page shows it (``#runbook-production-md-issue-502-bad-gateway``)."""
        return "runbook-" + _ANCHOR.sub("-", self.section.id).strip("-").lower()

    def as_dict(self, incident_url: str) -> dict[str, Any]:
        return {
            "id": self.section.id,
            "title": self.section.title,
            "why": self.why,
            "score": self.score,
            "steps": [step.as_dict() for step in self.section.steps],
            "url": f"{incident_url}#{self.anchor}",
        }


class Suggestions:
    """Suggestions for the incidents of one stack file over one library, built once per start."""

    def __init__(self, library: Library, stack: StackFile, *, cached: int = CACHED) -> None:
        self.library = library
        self.index = SectionIndex(library.all_sections())
        self.by_check = {spec.id: spec.config.runbook for spec in stack.checks() if spec.config.runbook}
        self.by_rule = {rule.name: rule.runbook for rule in stack.alerts if rule.runbook}
        self.cached = cached
        self._cache: OrderedDict[tuple[int, datetime], list[Suggestion]] = OrderedDict()

    def for_incident(self, incident: Incident, trigger: str | None) -> list[Suggestion]:
        """The best ``SUGGESTED`` sections for ``incident``, whose timeline starts with ``trigger``."""
        if not self.index.sections:
            return []
        key = (incident.id, incident.opened_at)  # a fresh store numbers incidents from 1 again
        found = self._cache.get(key)
        if found is None:
            found = self.rank(incident, trigger)
            self._cache[key] = found
            while len(self._cache) > self.cached:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found

    def for_page(self, incident: Incident, trigger: str | None) -> list[dict[str, str]]:
        """What the page sent when ``incident`` opens carries: id, title and why of each. A
        suggestion that cannot be worked out never holds the page back."""
        try:
            suggestions = self.for_incident(incident, trigger)
        except (VigilError, sqlite3.Error) as err:
            log.warning("no runbook suggestions for incident %s: %s", incident.id, err)
            return []
        return [{"id": s.section.id, "title": s.section.title, "why": s.why} for s in suggestions]

    def rank(self, incident: Incident, trigger: str | None) -> list[Suggestion]:
        """``for_incident`` without the cache."""
        rule = rule_name(incident)
        suggestions = self._named(incident, rule)
        if trigger:  # a rule's trigger line ends "; runbook: ADDRESS": already named, not words to rank by
            trigger = _ADDRESS.sub(" ", trigger)
        query = " ".join(
            text
            for text in (rule, incident.title, incident.reason, incident.service, incident.check, trigger)
            if text
        )
        wanted = terms(query)
        named = {s.section.id for s in suggestions}
        hits = self.index.search(" ".join(wanted), _CANDIDATES)
        weighed = [(h.score * (1.0 if h.section.is_procedure else PROSE_FACTOR), h) for h in hits]
        for score, hit in sorted(weighed, key=lambda pair: -pair[0]):
            if len(suggestions) >= SUGGESTED:
                break
            if hit.section.id not in named:
                named.add(hit.section.id)
                suggestions.append(Suggestion(hit.section, matched(hit.section, wanted), round(score, 3)))
        return suggestions

    def _named(self, incident: Incident, rule: str | None) -> list[Suggestion]:
        named: list[Suggestion] = []
        for address, why in (
            (self.by_check.get(incident.check or ""), f"named by the check {incident.check}"),
            (self.by_rule.get(rule or ""), f"named by alert {rule}"),
        ):
            section = self.library.section(address) if address else None
            if section is not None and all(s.section.id != section.id for s in named):
                named.append(Suggestion(section, why))
        return named


def rule_name(incident: Incident) -> str | None:
    """The alert rule an incident was opened by (its key is ``alert:NAME:group``), if any."""
    kind, _, rest = incident.key.partition(":")
    return (rest.partition(":")[0] or None) if kind == "alert" else None


def trigger_text(timeline: Sequence[TimelineEntry]) -> str | None:
    """The line that opened the incident: the alert's name and labels, or the check's failure."""
    return next((entry.text for entry in timeline if entry.kind is EventKind.TRIGGERED), None)


def matched(section: Section, wanted: Sequence[str]) -> str:
    """Why a ranked section was suggested: the incident's words it contains."""
    haystack = " ".join(
        (section.title, *section.path, section.text, *(s.code for s in section.steps))
    ).lower()
    found = [word for word in wanted if re.search(rf"\b{re.escape(word)}", haystack)]
    return f"matches {', '.join(found[:5])}" if found else "ranked by the incident's words"
