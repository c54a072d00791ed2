"""Incident statuses, and the default scheme's severity names (see ``incidents.scheme`` for
the levels themselves and the other schemes)."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """The default scheme's levels by name; an incident's severity is any level's name (a str)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class IncidentStatus(StrEnum):
    """triggered → acknowledged → mitigated → resolved; a resolved incident may be reopened."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class Target(StrEnum):
    """A severity level's response targets an incident can miss."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
