"""Procedures as the API lists them and the dashboard shows them: each step with what would
make it need confirmation and the placeholders it needs filled in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from vigil.runbooks import safety, variables
from vigil.runbooks.library import Library
from vigil.runbooks.model import Section, Step


@dataclass(frozen=True)
class StepView:
    step: Step
    destructive: tuple[str, ...]  # what matched; empty: it runs on a click
    placeholders: tuple[str, ...]  # names to fill in, as --param NAME=…

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.step.as_dict(),
            "destructive": list(self.destructive),
            "placeholders": list(self.placeholders),
        }


def steps(section: Section) -> list[StepView]:
    return [
        StepView(
            s,
            tuple(safety.confirmation(section, s)) if s.runnable else (),
            tuple(dict.fromkeys(p.name for p in variables.placeholders(s))) if s.runnable else (),
        )
        for s in section.steps
    ]


def procedure(section: Section) -> dict[str, Any]:
    """A procedure in the API's listing."""
    views = steps(section)
    return {
        "id": section.id,
        "title": section.title,
        "path": list(section.path),
        "line": section.line,
        "steps": len(views),
        "destructive": any(v.destructive for v in views),
    }


def procedure_detail(section: Section) -> dict[str, Any]:
    return {**procedure(section), "text": section.text, "steps": [v.as_dict() for v in steps(section)]}


def listing(library: Library, query: str = "") -> list[dict[str, Any]]:
    wanted = query.strip().lower()
    return [
        procedure(s)
        for s in library.procedures()
        if not wanted or wanted in s.title.lower() or wanted in s.id.lower()
    ]


def dom_id(section: Section, step: Step) -> str:
    """An element id for a step's output box: unique on a page showing several procedures."""
    return f"run-{hashlib.sha1(section.id.encode()).hexdigest()[:10]}-{step.number}"
