"""Alertmanager's webhook payload (version 4), so an existing Prometheus + Alertmanager can feed
Vigil incidents: each alert, by its fingerprint, opens an incident when firing and resolves it
when resolved; a repeat of a firing alert changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.incidents.model import Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity

SEVERITY_LABELS = {"critical": Severity.P1, "page": Severity.P1, "error": Severity.P2, "warning": Severity.P3}


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1)


class AmPayload(BaseModel):
    """Alertmanager's ``webhook_config`` body; unknown extra fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AmAlert]


def severity_of(labels: dict[str, str]) -> Severity:
    raw = labels.get("severity", "")
    if raw.upper() in Severity.__members__:
        return Severity(raw.upper())
    return SEVERITY_LABELS.get(raw.lower(), Severity.P2)


async def receive(payload: AmPayload, incidents: IncidentService) -> dict[str, list[int]]:
    """Apply every alert of the payload; returns the incidents opened and resolved."""
    opened: list[Incident] = []
    resolved: list[Incident] = []
    for alert in payload.alerts:
        key = f"alertmanager:{alert.fingerprint}"
        name = alert.labels.get("alertname", "alert")
        summary = alert.annotations.get("summary") or alert.annotations.get("description")
        if alert.status == "firing":
            shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
            incident = await incidents.open(
                key=key,
                title=summary or name,
                severity=severity_of(alert.labels),
                service=alert.labels.get("service") or alert.labels.get("job") or "alertmanager",
                check_id=None,
                reason=summary or name,
                channels=None,
                labels=alert.labels,
                trigger=f"{name} firing in Alertmanager ({shown}) since {alert.startsAt.isoformat()}",
            )
            if incident is not None:
                opened.append(incident)
        else:
            done = await incidents.recover(key, f"{name} resolved in Alertmanager")
            if done is not None:
                resolved.append(done)
    return {"opened": [i.id for i in opened], "resolved": [i.id for i in resolved]}
