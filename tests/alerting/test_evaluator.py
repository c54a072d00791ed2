"""Rule evaluation driving incidents: one incident per alert group, timeline lines per alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from tests.alerting.conftest import Rules
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.store.database import open_database

STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
alerts:
  - name: HighErrorRate
    expr: errors > 0.05
    for: 30s
    severity: P1
    annotations: {summary: "Error rate {{ $value | humanizePercentage }}"}
    runbook: runbooks/production.md#issue-502-bad-gateway
"""


async def test_a_firing_rule_opens_one_incident_for_its_group_and_resolves_it(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    current: list[tuple[Mapping[str, str], float]] = []

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        return list(current)

    evaluator = RuleEvaluator(stack.model.alerts, query, incidents, clock, every=15)
    current[:] = [({"path": "/a"}, 0.08), ({"path": "/b"}, 0.2)]
    await evaluator.evaluate_once()
    assert await incidents.list() == []
    await clock.advance(30)
    await evaluator.evaluate_once()
    [incident] = await incidents.list()
    assert (incident.severity, incident.status) == (Severity.P1, IncidentStatus.TRIGGERED)
    assert incident.title == "Error rate 8%"
    timeline = [e.text for e in await incidents.timeline(incident.id)]
    assert timeline[0] == (
        "HighErrorRate firing (path=/a): value 0.08; runbook: runbooks/production.md#issue-502-bad-gateway"
    )
    assert timeline[1].startswith("also HighErrorRate firing (path=/b)")

    # Alerts of the group that fire later join the open incident: noted, not paged again.
    current[:] = [({"path": "/a"}, 0.08), ({"path": "/b"}, 0.2), ({"path": "/c"}, 0.3), ({"path": "/d"}, 0.4)]
    await clock.advance(15)
    await evaluator.evaluate_once()
    await clock.advance(30)
    await evaluator.evaluate_once()
    assert (await incidents.get(incident.id)).status is IncidentStatus.TRIGGERED
    joined = [e.text for e in await incidents.timeline(incident.id)][len(timeline) :]
    assert [text.split(":")[0] for text in joined] == [
        "also HighErrorRate firing (path=/c)",
        "also HighErrorRate firing (path=/d)",
    ]
    assert len(await incidents.list()) == 1

    current[:] = [({"path": "/b"}, 0.2)]
    await clock.advance(15)
    await evaluator.evaluate_once()
    assert (await incidents.get(incident.id)).status is IncidentStatus.TRIGGERED
    current[:] = []
    await clock.advance(15)
    await evaluator.evaluate_once()
    assert (await incidents.get(incident.id)).status is IncidentStatus.RESOLVED
    assert len(await incidents.list()) == 1
    await engine.dispose()


async def test_a_rule_that_fails_to_evaluate_is_reported_and_does_not_stop_the_others(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    rules = [AlertRule(name="Broken", expr="x"), AlertRule(name="Fine", expr="y")]
    incidents = IncidentService(engine, parse_stack("t.yaml", "services: {}", {}).model, clock)

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        if rule.name == "Broken":
            raise ValueError("division by zero in a rule")
        return [({}, 1.0)]

    evaluator = RuleEvaluator(rules, query, incidents, clock, every=15)
    await evaluator.evaluate_once()
    assert evaluator.errors == {"Broken": "division by zero in a rule"}
    assert [i.title for i in await incidents.list()] == ["Fine"]
    await engine.dispose()


async def test_an_alert_of_a_service_whose_dependency_is_down_joins_that_incident(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    root = await incidents.open(
        key="check:postgres.ping",
        title="postgres.ping is failing",
        severity=Severity.P1,
        service="postgres",
        check_id="postgres.ping",
        reason="connection refused",
        channels=None,
        trigger="postgres.ping failed",
    )
    assert root is not None
    down = {"api": ("postgres", root.id)}

    async def root_incident(service: str) -> tuple[str, int] | None:
        return down.get(service)

    current: list[tuple[Mapping[str, str], float]] = [({"service": "api"}, 0.3)]

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        return list(current)

    evaluator = RuleEvaluator(
        stack.model.alerts, query, incidents, clock, every=15, root_incident=root_incident
    )
    await evaluator.evaluate_once()
    await clock.advance(30)
    await evaluator.evaluate_once()
    assert [i.id for i in await incidents.list()] == [root.id]
    current.clear()
    await clock.advance(15)
    await evaluator.evaluate_once()
    symptoms = [e.text for e in await incidents.timeline(root.id) if e.kind.value == "symptom"]
    assert symptoms[0].startswith("HighErrorRate firing (service=api): value 0.3")
    assert symptoms[0].endswith("it depends on postgres")
    assert symptoms[1] == "HighErrorRate resolved (service=api)"
    await engine.dispose()


async def test_label_sets_whose_joined_values_look_alike_open_their_own_incidents(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(
        "notify: {channels: {log: {log: true}}, default: [log]}\n"
        "alerts: [{name: Split, expr: x > 1, group_by: [a, b]}]\n"
    )
    r.samples["Split"] = [({"a": "x,b=y", "b": ""}, 2.0), ({"a": "x", "b": "y,b="}, 2.0)]
    await r.step()
    assert await r.rule_incidents() == [("Split", "triggered"), ("Split", "triggered")]
