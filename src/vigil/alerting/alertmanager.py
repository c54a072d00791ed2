"""Alertmanager's webhook payload (version 4), so an existing Prometheus + Alertmanager can feed
Vigil incidents: each alert, by its fingerprint, opens an incident when firing and resolves it
when resolved; a repeat of a firing alert changes nothing.

A payload is bounded: at most ``MAX_ALERTS`` alerts (Alertmanager's ``max_alerts`` setting
keeps a bigger group under it) and ``MAX_LABELS`` labels each; a label value, summary or
description longer than the store and the pages can carry is cut short with ``TRUNCATED``, so
a 50 MB summary costs a few kilobytes, not every page of the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vigil.incidents.opening import OpenRequest
from vigil.incidents.scheme import SeverityScheme
from vigil.incidents.service import IncidentService

MAX_ALERTS = 2000
MAX_LABELS = 100
TRUNCATED = "…[truncated]"
TITLE_LIMIT = 300
TEXT_LIMIT = 4000
VALUE_LIMIT = 1000
NAME_LIMIT = 200  # the store's width for a service name


def clip(text: str, limit: int) -> str:
    """``text``, or its first characters and ``TRUNCATED`` when longer than ``limit``."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _clip_values(limit: int) -> AfterValidator:
    return AfterValidator(lambda values: {k: clip(v, limit) for k, v in values.items()})


LabelName = Annotated[str, Field(min_length=1, max_length=NAME_LIMIT)]
Labels = Annotated[dict[LabelName, str], Field(max_length=MAX_LABELS), _clip_values(VALUE_LIMIT)]
Annotations = Annotated[dict[LabelName, str], Field(max_length=MAX_LABELS), _clip_values(TEXT_LIMIT)]


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=200)


class AmPayload(BaseModel):
    """Alertmanager's ``webhook_config`` body; unknown extra fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Annotations = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AmAlert] = Field(
        max_length=MAX_ALERTS,
        description=f"At most {MAX_ALERTS:,}; set max_alerts in Alertmanager's webhook_config to stay under it.",
    )


def opening(alert: AmAlert, scheme: SeverityScheme) -> OpenRequest:
    name = alert.labels.get("alertname", "alert")
    summary = alert.annotations.get("summary") or alert.annotations.get("description")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    service = alert.labels.get("service") or alert.labels.get("job") or "alertmanager"
    return OpenRequest(
        key=f"alertmanager:{alert.fingerprint}",
        title=clip(summary or name, TITLE_LIMIT),
        # A level's name, or Prometheus' critical/warning/info mapped onto the scheme.
        severity=scheme.pick(alert.labels.get("severity")).name,
        service=clip(service, NAME_LIMIT),
        check_id=None,
        reason=summary or name,
        channels=None,
        labels=alert.labels,
        trigger=clip(
            f"{name} firing in Alertmanager ({shown}) since {alert.startsAt.isoformat()}", TEXT_LIMIT
        ),
    )


async def receive(payload: AmPayload, incidents: IncidentService) -> dict[str, list[int]]:
    """Apply every alert of the payload, all firing ones in one transaction and all resolved
    ones in another; returns the incidents opened and resolved."""
    scheme = incidents.stack.scheme
    firing = [opening(a, scheme) for a in payload.alerts if a.status == "firing"]
    ended = [
        (
            f"alertmanager:{a.fingerprint}",
            f"{clip(a.labels.get('alertname', 'alert'), TITLE_LIMIT)} resolved in Alertmanager",
        )
        for a in payload.alerts
        if a.status == "resolved"
    ]
    opened = await incidents.open_many(firing) if firing else []
    resolved = await incidents.recover_many(ended) if ended else []
    return {"opened": [i.id for i in opened if i], "resolved": [i.id for i in resolved if i]}
