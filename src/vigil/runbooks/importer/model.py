"""The stack file being drafted, before it is written: services with their checks and
dependencies, alert rules, severities, windows, and what the runbook says that Vigil cannot
express yet. Every part remembers the runbook line it came from, for the comment beside it.
"""

from __future__ import annotations

import graphlib
import re
from dataclasses import dataclass, field
from typing import Any

from vigil.runbooks.slug import slug_of

# A 5 MB runbook must not become a 5 MB stack file of repeats: past these, a note says what was left.
MAX_SERVICES = 200
MAX_CHECKS = 50  # per service
MAX_ALERTS = 500
MAX_NOTES = 2_000
# Note topics for what was read but left out of the draft, as against what Vigil cannot express.
NOT_DRAFTED = frozenset({"alerts not drafted", "requests not checked", "dependencies", "not drafted"})
_WORDS = 160  # characters of the runbook's words kept in a comment


def words(text: str) -> str:
    """The runbook's words as one comment-safe line."""
    line = " ".join(text.split())
    return line if len(line) <= _WORDS else line[: _WORDS - 1] + "…"


def service_name(text: str) -> str:
    """A service (or check, or window) name Vigil takes, from a runbook's name for it."""
    name = re.sub(r"-+", "-", slug_of(re.sub(r"[^\w\s-]", " ", text).strip())).strip("-_")
    return name[:60].rstrip("-_") or "service"


def literal(text: str) -> str:
    """Free text for the stack file: a ``$`` the runbook wrote is not a variable of ours."""
    return text.replace("$", "$$")


@dataclass
class CheckDraft:
    name: str
    fields: dict[str, Any]  # the probe key first
    line: int
    why: str  # the comment above it: the runbook's words it came from
    also: list[str] = field(default_factory=list)  # other places that say the same


@dataclass
class ServiceDraft:
    name: str
    line: int
    why: str
    description: str | None = None
    aliases: set[str] = field(default_factory=set)
    url: str | None = None  # where it answers, when the runbook says
    variable: str | None = None  # the environment variable that holds its URL (a datastore's)
    port: int | None = None
    health_path: str | None = None
    datastore: str | None = None  # the technology, for a datastore
    external: bool = False
    metrics: str | None = None
    depends_on: dict[str, str] = field(default_factory=dict)  # service → why
    checks: dict[str, CheckDraft] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    def add_check(self, check: CheckDraft) -> CheckDraft | None:
        """Add ``check`` under a free name; None when the service has as many as it may."""
        if len(self.checks) >= MAX_CHECKS:
            return None
        base, n = check.name, 1
        while check.name in self.checks:
            n += 1
            check.name = f"{base}-{n}"
        self.checks[check.name] = check
        return check


@dataclass
class AlertDraft:
    fields: dict[str, Any]  # name, expr, for, severity, annotations, runbook
    line: int
    why: str


@dataclass
class BackupDraft:
    name: str
    fields: dict[str, Any]  # the job as the stack file writes it, engine first
    line: int  # the command it came from
    why: str
    notes: dict[str, str] = field(default_factory=dict)  # a field → where its value came from
    lines: set[int] = field(default_factory=set)  # every runbook line read for it


@dataclass
class Note:
    """Something the runbook says that Vigil cannot express yet, kept as a comment."""

    topic: str
    line: int
    text: str


@dataclass
class StackDraft:
    file: str  # the runbook's name, as comments cite it
    title: str
    runbook_path: str | None = None  # as the stack file lists it; None when it cannot be
    runbook_problem: str | None = None
    env: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (value, why)
    env_comments: list[str] = field(default_factory=list)
    services: dict[str, ServiceDraft] = field(default_factory=dict)
    service_comments: list[str] = field(default_factory=list)
    external_words: set[str] = field(default_factory=set)  # first words of the external services listed
    alerts: list[AlertDraft] = field(default_factory=list)
    alert_comments: list[str] = field(default_factory=list)
    severities: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    windows: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    backups: dict[str, BackupDraft] = field(default_factory=dict)
    checklists: list[tuple[str, list[Note]]] = field(default_factory=list)  # heading → items
    notes: list[Note] = field(default_factory=list)
    known: dict[str, ServiceDraft] = field(default_factory=dict)  # every name and alias → its service
    untold: int = 0  # notes and checklist items past MAX_NOTES, counted so the draft can say so

    def cite(self, line: int, text: str = "") -> str:
        return f"{self.file}:{line}: {words(text)}" if text else f"{self.file}:{line}"

    def note(self, topic: str, line: int, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(Note(topic, line, words(text)))
        else:
            self.untold += 1

    def service(self, name: str, line: int, why: str) -> ServiceDraft | None:
        """The service named ``name``, made when new; None past ``MAX_SERVICES``."""
        found = self.services.get(name)
        if found is None:
            if len(self.services) >= MAX_SERVICES:
                self.note("not drafted", line, f"service {name}: past the {MAX_SERVICES} a draft holds")
                return None
            found = self.services[name] = ServiceDraft(name, line, why)
            self.alias(found, name)
        return found

    def alias(self, service: ServiceDraft, *names: str) -> None:
        """Other names the runbook calls ``service`` by; the first service to take a name keeps it."""
        service.aliases.update(names)
        for name in names:
            self.known.setdefault(name, service)

    def find(self, text: str) -> ServiceDraft | None:
        """The service the runbook means by ``text``: a name or alias, exactly (case aside)."""
        return self.known.get(service_name(text)) or self.known.get(text.strip().lower())

    def depend(self, user: ServiceDraft, needed: ServiceDraft, why: str) -> bool:
        """Record that ``user`` needs ``needed``, unless that would close a cycle."""
        if user is needed or needed.name in user.depends_on:
            return False
        graph = {s.name: set(s.depends_on) for s in self.services.values()}
        graph[user.name].add(needed.name)
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError:
            self.note("dependencies", 0, f"{user.name} -> {needed.name} would close a cycle ({why})")
            return False
        user.depends_on[needed.name] = why
        return True
