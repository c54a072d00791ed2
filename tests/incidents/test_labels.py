"""Every incident carries its labels, and its severity comes from the stack file's scheme: from a
rule (``alertname``, the rule's labels and the series'), from a check (service, check, kind), and
from an alert Alertmanager sends (its labels, its Prometheus severity mapped onto the scheme)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.alertmanager import AmPayload, receive
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService

STACK = """
severity_scheme: SEV
alerts:
  - name: HighErrorRate
    expr: errors > 0.05
    labels: {team: web, severity: warning}
  - name: Down
    expr: up == 0
    severity: SEV1
"""


async def test_a_rule_incident_carries_the_alerts_labels_and_the_severity_its_label_maps_to(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    stack = parse_stack("vigil.yaml", STACK, {}).model
    incidents = IncidentService(engine, stack, clock)

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        series = {"service": "api", "instance": "10.0.0.7:8000", "__name__": rule.name}
        return [(series, 0.2)]

    await RuleEvaluator(stack.alerts, query, incidents, clock, every=15).evaluate_once()
    by_rule = {i.labels["alertname"]: i for i in await incidents.list()}
    errors, down = by_rule["HighErrorRate"], by_rule["Down"]
    assert errors.labels == {
        "alertname": "HighErrorRate",
        "instance": "10.0.0.7:8000",
        "service": "api",
        "severity": "warning",
        "team": "web",
    }
    assert errors.severity == "SEV3"  # Prometheus' warning → the scheme's third level
    assert (down.severity, down.labels["severity"]) == ("SEV1", "SEV1")
    assert (await incidents.get(errors.id)).as_dict()["labels"]["team"] == "web"


async def test_an_alertmanager_alert_maps_its_severity_label_onto_the_scheme(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    incidents = IncidentService(engine, parse_stack("vigil.yaml", STACK, {}).model, clock)
    at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    payload = AmPayload.model_validate(
        {
            "version": "4",
            "groupKey": "g",
            "status": "firing",
            "receiver": "vigil",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "severity": severity, "service": "api"},
                    "startsAt": at,
                    "fingerprint": name,
                }
                for name, severity in (("A", "critical"), ("B", "info"), ("C", "sev2"), ("D", "odd"))
            ],
        }
    )
    await receive(payload, incidents)
    got = {i.labels["alertname"]: (i.severity, i.labels["severity"]) for i in await incidents.list()}
    assert got == {
        "A": ("SEV1", "critical"),
        "B": ("SEV4", "info"),
        "C": ("SEV2", "sev2"),
        "D": ("SEV2", "odd"),  # anything else: the scheme's default, its second level
    }
