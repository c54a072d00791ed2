"""A runbook as Vigil sees it: a tree of sections; a section with code blocks is a procedure
whose steps are those blocks, in order, each with the prose just before it.

Sections are addressed ``FILE#slug`` (GitHub's heading slugs, so links people already paste
into alerts keep working).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StepKind(StrEnum):
    """How a step runs, from its fence's language."""

    SHELL = "shell"
    SQL = "sql"
    HTTP = "http"
    PROMQL = "promql"
    DB_CHORE = "db-chore"
    SHOWN = "shown"  # any other language: shown to the responder, never run


LANGUAGES: dict[str, StepKind] = {
    "bash": StepKind.SHELL,
    "sh": StepKind.SHELL,
    "shell": StepKind.SHELL,
    "console": StepKind.SHELL,
    "zsh": StepKind.SHELL,
    "sql": StepKind.SQL,
    "psql": StepKind.SQL,
    "postgresql": StepKind.SQL,
    "mysql": StepKind.SQL,
    "http": StepKind.HTTP,
    "promql": StepKind.PROMQL,
    "prometheus": StepKind.PROMQL,
    "vigil-db": StepKind.DB_CHORE,
}


@dataclass(frozen=True)
class StepAttributes:
    """The fence's attributes, in Runme's syntax (``{name=restart confirm=true}`` or JSON).

    Runme's keys keep Runme's meaning (``name``, ``cwd``, ``excludeFromRunAll``, ``interactive``,
    ``background``, ``promptEnv``); Vigil adds ``confirm``, ``timeout``, ``db`` and ``run``.
    """

    name: str | None = None
    confirm: bool | None = None  # None: decided by the step's safety rules
    timeout: float | None = None  # seconds; None: the runner's default
    cwd: str | None = None
    db: str | None = None
    run: bool = True  # run=false: shown, never run
    exclude_from_run_all: bool = False
    interactive: bool = False
    background: bool = False
    raw: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One code block of a procedure."""

    number: int  # 1-based, as `--step N` counts
    language: str
    kind: StepKind
    code: str
    explanation: str  # the prose just before the block
    line: int  # 1-based line of the fence in its file
    attributes: StepAttributes = field(default_factory=StepAttributes)

    @property
    def runnable(self) -> bool:
        return self.kind is not StepKind.SHOWN and self.attributes.run

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.attributes.name,
            "language": self.language,
            "kind": str(self.kind),
            "runnable": self.runnable,
            "line": self.line,
            "explanation": self.explanation,
            "code": self.code,
        }


@dataclass(frozen=True)
class Section:
    """A heading and what follows it up to the next heading; ``text`` is its own prose (not its
    subsections'), ``steps`` its own code blocks."""

    file: str  # as the stack file names it, relative to the stack file
    slug: str
    title: str
    level: int
    line: int
    text: str
    steps: tuple[Step, ...]
    parent: str | None  # the enclosing section's id
    path: tuple[str, ...]  # titles from the top heading down to this one

    @property
    def id(self) -> str:
        return f"{self.file}#{self.slug}"

    @property
    def is_procedure(self) -> bool:
        """A section with a block that can run; one with only diagrams or output is prose."""
        return any(step.kind is not StepKind.SHOWN for step in self.steps)


@dataclass(frozen=True)
class Review:
    """The runbook's own "Last updated" and "Next review" lines, when it has them."""

    last_updated: dt.date | None = None
    next_review: dt.date | None = None
    line: int = 0


@dataclass(frozen=True)
class Runbook:
    file: str
    title: str
    sections: tuple[Section, ...]
    review: Review = field(default_factory=Review)
    faults: tuple[str, ...] = ()  # "file:line: message" for attributes Vigil could not read

    @property
    def procedures(self) -> list[Section]:
        return [s for s in self.sections if s.is_procedure]
