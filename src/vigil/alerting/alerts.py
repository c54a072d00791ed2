"""Alert instances and their state machine: inactive → pending → firing → resolved.

Semantics follow Prometheus' rule manager: an instance is the rule's labels over one sample's
labels (``__name__`` dropped), keyed by a fingerprint of the result; it is pending from its
first evaluation, fires once it has held for ``for``, and keeps firing for ``keep_firing_for``
after the expression stops returning it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from vigil.alerting.template import render
from vigil.config.alerts import AlertRule


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    return _digest(labels)[:16]


def _digest(labels: Mapping[str, str]) -> str:
    # JSON of the sorted pairs: no label value can pass for a separator, as any character can
    # appear in one (a joined "k=v,k=v" or "\x00"-separated text lets two label sets collide).
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()


@dataclass(frozen=True)
class Alert:
    rule: str
    labels: Mapping[str, str]
    value: float
    state: AlertState
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    last_seen: float = 0.0
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


@dataclass(frozen=True)
class Transition:
    """An alert that started firing or was resolved at this evaluation."""

    alert: Alert
    to: AlertState


def alert_labels(rule: AlertRule, sample_labels: Mapping[str, str], severity: str) -> dict[str, str]:
    labels = {k: v for k, v in sample_labels.items() if k != "__name__"}
    labels.update(rule.labels)
    labels["alertname"] = rule.name
    labels.setdefault("severity", severity)
    return labels


class RuleAlerts:
    """The alerts of one rule across evaluations; ``severity`` is the level its incidents get
    (the rule's ``severity`` or its severity label, mapped onto the stack file's scheme)."""

    def __init__(self, rule: AlertRule, severity: str | None = None) -> None:
        self.rule = rule
        self.severity = severity or rule.severity or rule.labels.get("severity") or "P2"
        self.active: dict[str, Alert] = {}

    def update(self, samples: list[tuple[Mapping[str, str], float]], now: float) -> list[Transition]:
        transitions: list[Transition] = []
        seen: set[str] = set()
        for sample_labels, value in samples:
            labels = alert_labels(self.rule, sample_labels, self.severity)
            key = fingerprint(labels)
            seen.add(key)
            annotations = {k: render(v, labels, value) for k, v in self.rule.annotations.items()}
            current = self.active.get(key)
            if current is None:
                current = Alert(self.rule.name, labels, value, AlertState.PENDING, now, last_seen=now)
            current = replace(current, value=value, last_seen=now, annotations=annotations)
            if current.state is AlertState.PENDING and now - current.active_at >= self.rule.for_:
                current = replace(current, state=AlertState.FIRING, fired_at=now)
                transitions.append(Transition(current, AlertState.FIRING))
            self.active[key] = current
        for key, alert in list(self.active.items()):
            if key in seen:
                continue
            if alert.state is AlertState.FIRING and now - alert.last_seen < self.rule.keep_firing_for:
                continue
            del self.active[key]
            if alert.state is AlertState.FIRING:
                done = replace(alert, state=AlertState.RESOLVED, resolved_at=now)
                transitions.append(Transition(done, AlertState.RESOLVED))
        return transitions

    def group_key(self, alert: Alert) -> str:
        """The key of the incident this alert's group shares: a missing label counts as empty."""
        grouped = {name: alert.labels.get(name, "") for name in self.rule.group_by}
        return f"alert:{self.rule.name}:{_digest(grouped)[:32]}"


def service_of(alert: Alert) -> str:
    return alert.labels.get("service") or alert.labels.get("job") or "alerts"


def shown(alert: Alert) -> str:
    """Its labels as a timeline shows them, without those every alert of the rule shares."""
    return ", ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")
    )


def trigger(rule: AlertRule, alert: Alert) -> str:
    """The timeline line of an alert that started firing."""
    labels = shown(alert)
    text = f"{rule.name} firing{f' ({labels})' if labels else ''}: value {alert.value:g}"
    return f"{text}; runbook: {rule.runbook}" if rule.runbook else text


def ended(alert: Alert) -> str:
    """The timeline line of an alert that stopped firing."""
    labels = shown(alert)
    return f"{alert.rule} resolved{f' ({labels})' if labels else ''}"
