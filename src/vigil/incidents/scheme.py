"""Severity schemes: the ordered levels an incident's severity is one of, most severe first.

Three schemes come ready, in the words the runbooks use — ``P`` (P1-P4, the default), ``SEV``
(SEV1-SEV4) and ``named`` (critical, high, medium, low) — and a stack file may define its own
(``custom``). Each level carries its targets (acknowledge within, resolve within), whether it
pages, the escalation policy it starts and the checklist its incidents follow.

Alerts that come from Prometheus speak in its ``severity`` label; ``pick`` maps that onto the
scheme: ``critical`` and ``page`` → the first level, ``error`` → the second, ``warning`` → the
third, ``info`` → the last (each clamped to the scheme's last level when it has fewer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SchemeName(StrEnum):
    P = "P"
    SEV = "SEV"
    NAMED = "named"
    CUSTOM = "custom"


# Prometheus' severity label → the level it means, counted from the most severe; 0 is the last.
PROMETHEUS_RANK = {"critical": 1, "page": 1, "error": 2, "warning": 3, "info": 0}
PROMETHEUS_WORDS = ("critical", "warning", "info")

# The runbooks' incident checklist (acknowledge, assess, communicate, mitigate, resolve,
# post-mortem); the lower levels keep the parts that fit a minor issue.
FULL_CHECKLIST = (
    "Acknowledge the page",
    "Assess impact and scope",
    "Communicate status to stakeholders",
    "Mitigate: restore service",
    "Resolve and verify every system is healthy",
    "Write the post-mortem",
)
SHORT_CHECKLIST = ("Acknowledge the page", "Assess impact and scope", "Resolve and verify the fix")


@dataclass(frozen=True)
class Level:
    """One level of a scheme; ``rank`` 1 is the most severe. Targets are in seconds."""

    name: str
    rank: int
    description: str
    acknowledge: float
    resolve: float | None
    pages: bool = True
    escalation: str | None = None
    checklist: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rank": self.rank,
            "description": self.description,
            "acknowledge_seconds": self.acknowledge,
            "resolve_seconds": self.resolve,
            "pages": self.pages,
            "escalation": self.escalation,
            "checklist": list(self.checklist),
        }


class SeverityScheme:
    def __init__(self, name: SchemeName, levels: Sequence[Level]) -> None:
        if not levels:
            raise ValueError("a severity scheme needs at least one level")
        self.name = name
        self.levels = tuple(levels)
        self._by_name = {level.name: level for level in self.levels}
        self._folded = {level.name.casefold(): level for level in self.levels}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    @property
    def default(self) -> Level:
        """What an alert or check that names no severity gets: the second level (P2 by default)."""
        return self.levels[min(1, len(self.levels) - 1)]

    def get(self, name: str) -> Level | None:
        """The level named exactly ``name``; None for a name this scheme does not have (an
        incident stored under an earlier scheme)."""
        return self._by_name.get(name)

    def rank(self, name: str) -> int:
        """For sorting: an unknown name sorts after every level."""
        level = self._by_name.get(name)
        return level.rank if level is not None else len(self.levels) + 1

    def escalation(self, severity: str) -> str | None:
        """The escalation policy an incident of ``severity`` starts (``severities: {P1: {escalation:
        …}}``); None when its level names none, or the scheme has no such level."""
        level = self._by_name.get(severity)
        return level.escalation if level is not None else None

    def accepts(self, value: str) -> bool:
        """A stack file may name a level, or one of Prometheus' severity words."""
        return value in self._by_name or value in PROMETHEUS_WORDS

    def pick(self, value: str | None) -> Level:
        """The level ``value`` means: a level's name (any case), a Prometheus severity word, or
        the default level for anything else (a received alert's label is never refused)."""
        if value is None:
            return self.default
        level = self._by_name.get(value) or self._folded.get(value.casefold())
        if level is not None:
            return level
        rank = PROMETHEUS_RANK.get(value.casefold())
        if rank is None:
            return self.default
        return self.levels[min(rank, len(self.levels)) - 1] if rank else self.levels[-1]

    def problem(self, value: str) -> str | None:
        """Why a stack file's ``severity: value`` is refused, or None when it is fine."""
        if self.accepts(value):
            return None
        hint = self._folded.get(value.casefold())
        close = f"; did you mean {hint.name!r}?" if hint else ""
        return (
            f"unknown severity {value!r}; the scheme has {', '.join(self.names)}"
            f" (or Prometheus' {', '.join(PROMETHEUS_WORDS)}){close}"
        )


def _levels(rows: Sequence[tuple[str, str, float, float, bool]]) -> tuple[Level, ...]:
    return tuple(
        Level(
            name,
            rank,
            description,
            ack,
            resolve,
            pages,
            None,
            FULL_CHECKLIST if rank <= 2 else SHORT_CHECKLIST,
        )
        for rank, (name, description, ack, resolve, pages) in enumerate(rows, start=1)
    )


MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# The runbooks' tables: "P1 | Service down | 15 min" … "SEV4 | no user impact | Next business day".
BUILT_IN: dict[SchemeName, tuple[Level, ...]] = {
    SchemeName.P: _levels(
        (
            ("P1", "Service down", 15 * MINUTE, 4 * HOUR, True),
            ("P2", "Major degradation", HOUR, DAY, True),
            ("P3", "Minor issue", 4 * HOUR, 3 * DAY, True),
            ("P4", "Low impact", DAY, 7 * DAY, True),
        )
    ),
    SchemeName.SEV: _levels(
        (
            ("SEV1", "Complete outage, data loss, security breach", 5 * MINUTE, 4 * HOUR, True),
            ("SEV2", "Major feature broken, high error rate", 15 * MINUTE, DAY, True),
            ("SEV3", "Minor feature broken, elevated errors", HOUR, 3 * DAY, True),
            ("SEV4", "Low-impact issue, no user impact", DAY, 7 * DAY, False),
        )
    ),
    SchemeName.NAMED: _levels(
        (
            ("critical", "Service down or data at risk", 15 * MINUTE, 4 * HOUR, True),
            ("high", "Major degradation", HOUR, DAY, True),
            ("medium", "Minor issue", 4 * HOUR, 3 * DAY, True),
            ("low", "Low impact", DAY, 7 * DAY, False),
        )
    ),
}

DEFAULT_SCHEME = SeverityScheme(SchemeName.P, BUILT_IN[SchemeName.P])
