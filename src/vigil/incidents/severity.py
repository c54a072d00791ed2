"""Severity levels and incident statuses, as the runbooks name them."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Time to first response, the runbooks' "P1: 15 minutes … P4: next business day".
DEFAULT_RESPONSE_SECONDS: dict[Severity, float] = {
    Severity.P1: 15 * 60,
    Severity.P2: 60 * 60,
    Severity.P3: 4 * 3600,
    Severity.P4: 24 * 3600,
}
