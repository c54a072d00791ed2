"""An alert storm: hundreds of groups start firing in one evaluation and their incidents open
in a few transactions, with the same incidents and timelines as when they open one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.alerting.conftest import Rules
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus

STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
alerts:
  - name: HighErrorRate
    expr: errors > 0.05
    for: 30s
    group_by: [job]
    annotations: {summary: "{{ $labels.job }} errors"}
  - name: Backlog
    expr: queue > 100
    for: 30s
    group_by: [job]
"""
JOBS = 250  # two rules of 250 groups each: more than two chunks of 200


@contextmanager
def commits(engine: AsyncEngine) -> Iterator[list[int]]:
    counted: list[int] = []

    def on_commit(_conn: Any) -> None:
        counted.append(1)

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)


async def test_a_storm_of_groups_opens_its_incidents_in_a_few_transactions(engine: AsyncEngine) -> None:
    clock = FakeClock()
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    firing: dict[str, list[tuple[Mapping[str, str], float]]] = {"HighErrorRate": [], "Backlog": []}

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        return list(firing[rule.name])

    evaluator = RuleEvaluator(stack.model.alerts, query, incidents, clock, every=15)
    firing["HighErrorRate"] = [
        ({"job": f"job{n}", "instance": str(i)}, 0.1) for n in range(JOBS) for i in range(2)
    ]
    firing["Backlog"] = [({"job": f"job{n}"}, 500.0) for n in range(JOBS)]
    await evaluator.evaluate_once()
    await clock.advance(30)
    with commits(engine) as counted:
        await evaluator.evaluate_once()
    assert len(counted) <= 3  # one per group would be 500
    opened = await incidents.list(limit=1000)
    assert len(opened) == 2 * JOBS
    assert all(i.status is IncidentStatus.TRIGGERED for i in opened)
    first = min(opened, key=lambda i: i.id)
    assert (first.key.split(":")[1], first.title) == ("HighErrorRate", "job0 errors")
    lines = [e.text.split(":")[0] for e in await incidents.timeline(first.id)]
    assert lines == [
        "HighErrorRate firing (instance=0, job=job0)",
        "also HighErrorRate firing (instance=1, job=job0)",
    ]


async def test_an_alert_ending_as_its_group_opens_anew_is_noted_on_the_new_incident(
    engine: AsyncEngine,
) -> None:
    """The group's incident was resolved by hand while one alert fired; at one evaluation
    another alert of the group fires and the first ends. The new incident opens before the
    end is noted, so the line lands on it, as when each group opened on its own."""
    clock = FakeClock()
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    firing: dict[str, list[tuple[Mapping[str, str], float]]] = {"HighErrorRate": [], "Backlog": []}

    async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
        return list(firing[rule.name])

    evaluator = RuleEvaluator(stack.model.alerts, query, incidents, clock, every=15)
    firing["HighErrorRate"] = [({"job": "api", "instance": "1"}, 0.1)]
    await evaluator.evaluate_once()
    await clock.advance(30)
    await evaluator.evaluate_once()
    [first] = await incidents.list()
    await incidents.resolve(first.id, "alice")
    firing["HighErrorRate"] = [({"job": "api", "instance": "1"}, 0.1), ({"job": "api", "instance": "2"}, 0.1)]
    await clock.advance(15)
    await evaluator.evaluate_once()
    firing["HighErrorRate"] = [({"job": "api", "instance": "2"}, 0.1)]
    await clock.advance(30)
    await evaluator.evaluate_once()
    second = max(await incidents.list(), key=lambda i: i.id)
    assert second.id != first.id and second.status is IncidentStatus.TRIGGERED
    lines = [e.text.split(":")[0] for e in await incidents.timeline(second.id)]
    assert lines == [
        "HighErrorRate firing (instance=2, job=api)",
        "HighErrorRate resolved (instance=1, job=api)",
    ]


async def test_a_storm_behind_a_failed_dependency_notes_its_symptoms_in_a_few_transactions(
    rules: Callable[[str], Rules], engine: AsyncEngine
) -> None:
    r = rules(STACK)
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.samples["HighErrorRate"] = [({"service": "api", "job": f"job{n}"}, 0.1) for n in range(JOBS)]
    await r.step()
    with commits(engine) as counted:
        await r.step(30)
    assert len(counted) <= 3  # one per held alert would be 250
    held = await r.lines(postgres, EventKind.SYMPTOM)
    assert len(held) == JOBS
    assert held[0] == "HighErrorRate firing (job=job0, service=api): value 0.1; it depends on postgres"
    assert await r.rule_incidents() == []

    r.samples["HighErrorRate"] = []
    with commits(engine) as counted:
        await r.step()
    assert len(counted) <= 3
    ended = (await r.lines(postgres, EventKind.SYMPTOM))[JOBS:]
    assert len(ended) == JOBS and ended[-1] == f"HighErrorRate resolved (job=job{JOBS - 1}, service=api)"
