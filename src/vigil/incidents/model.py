"""Incidents and timeline entries as the rest of Vigil sees them: frozen, typed, UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from vigil.incidents.severity import IncidentStatus
from vigil.store.tables import IncidentEventRow, IncidentRow


class EventKind(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RECOVERED = "recovered"
    NOTE = "note"
    SYMPTOM = "symptom"
    SUPPRESSED = "suppressed"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed"
    RUNBOOK = "runbook"  # a runbook step run on the incident: who, which step, exit code, output
    UPDATE = "update"  # a status update posted to the incident's channels (``incidents.updates``)
    FLAPPING = "flapping"  # its alert changes too often to page each time (``incidents.flapping``)
    MITIGATED = "mitigated"
    REOPENED = "reopened"
    ASSIGNED = "assigned"  # the assignee or the incident commander set or cleared
    SEVERITY = "severity"
    MERGED = "merged"
    CHECKLIST = "checklist"
    TARGET_MISSED = "target_missed"
    ESCALATED = "escalated"  # a step of its escalation policy paged someone (or named nobody)


@dataclass(frozen=True)
class Incident:
    id: int
    key: str
    title: str
    status: IncidentStatus
    severity: str  # a level's name in the stack file's scheme (P1 … P4 by default)
    service: str
    check: str | None
    reason: str | None
    channels: list[str]
    opened_at: datetime
    respond_by: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    resolve_by: datetime | None = None
    mitigated_at: datetime | None = None
    mitigated_by: str | None = None
    assignee: str | None = None
    commander: str | None = None
    merged_into: int | None = None
    reopened: int = 0
    missed: tuple[str, ...] = ()  # the targets it missed (``Target``), once read (``IncidentReads``)

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    @classmethod
    def from_row(cls, row: IncidentRow, missed: tuple[str, ...] = ()) -> Incident:
        return cls(
            id=row.id,
            key=row.key,
            title=row.title,
            status=IncidentStatus(row.status),
            severity=row.severity,
            service=row.service,
            check=row.check_id,
            reason=row.reason,
            channels=list(row.channels or []),
            opened_at=utc(row.opened_at),
            respond_by=utc(row.respond_by),
            acknowledged_at=utc_or_none(row.acknowledged_at),
            acknowledged_by=row.acknowledged_by,
            resolved_at=utc_or_none(row.resolved_at),
            resolved_by=row.resolved_by,
            labels=dict(row.labels or {}),
            resolve_by=utc_or_none(row.resolve_by),
            mitigated_at=utc_or_none(row.mitigated_at),
            mitigated_by=row.mitigated_by,
            assignee=row.assignee,
            commander=row.commander,
            merged_into=row.merged_into,
            reopened=row.reopened or 0,
            missed=missed,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "severity": str(self.severity),
            "service": self.service,
            "check": self.check,
            "reason": self.reason,
            "opened_at": self.opened_at.isoformat(),
            "respond_by": self.respond_by.isoformat(),
            "acknowledged_at": iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "labels": dict(self.labels),
            "targets": {
                "acknowledge_by": self.respond_by.isoformat(),
                "resolve_by": iso(self.resolve_by),
                "missed": list(self.missed),
            },
            "mitigated_at": iso(self.mitigated_at),
            "mitigated_by": self.mitigated_by,
            "assignee": self.assignee,
            "commander": self.commander,
            "merged_into": self.merged_into,
            "reopened": self.reopened,
        }


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: EventKind
    text: str
    actor: str | None = None

    @classmethod
    def from_row(cls, row: IncidentEventRow) -> TimelineEntry:
        return cls(utc(row.at), EventKind(row.kind), row.text, row.actor)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": str(self.kind), "text": self.text, "actor": self.actor}


def utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Vigil stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_or_none(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment else None


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def span(seconds: float) -> str:
    """``45s``, ``4m``, ``1h 05m``, ``2d 3h``: a duration as people write it."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"
