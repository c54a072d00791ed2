"""Dependency inhibition: a PostgreSQL outage pages once, for PostgreSQL, not for everything that needs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import sqlite_store_url
from vigil.alerting.check_failures import CheckFailures
from vigil.alerting.inhibition import DependencyGraph
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.database import open_database

STACK = """
services:
  api:
    depends_on: [worker, postgres]
    checks:
      health: {http: "http://127.0.0.1:9/", alert: {after: 2}}
  worker:
    depends_on: [postgres]
    checks:
      queue: {http: "http://127.0.0.1:9/q", alert: {after: 2}}
  postgres:
    checks:
      ping: {postgres: "postgresql://127.0.0.1:9/x", alert: {after: 2, severity: P1}}
"""


@pytest.mark.parametrize(
    ("failing", "service", "root"),
    [
        ({"postgres"}, "api", "postgres"),
        ({"postgres", "worker"}, "api", "postgres"),
        ({"worker"}, "api", "worker"),
        ({"api"}, "api", None),
        (set(), "worker", None),
        ({"postgres"}, "postgres", None),
    ],
)
def test_the_root_cause_is_the_deepest_failing_dependency(
    failing: set[str], service: str, root: str | None
) -> None:
    graph = DependencyGraph({"api": ["worker", "postgres"], "worker": ["postgres"], "postgres": []})
    assert graph.root_cause(service, failing.__contains__) == root


class Alerting(NamedTuple):
    clock: FakeClock
    incidents: IncidentService
    failures: CheckFailures


@pytest.fixture
async def alerting(tmp_path: Path) -> AsyncIterator[Alerting]:
    """Check failures for STACK, wired to incidents and the dependency graph, on a fresh store."""
    clock = FakeClock()
    engine = await open_database(await sqlite_store_url(tmp_path / "v.db"))
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    graph = DependencyGraph({n: s.depends_on for n, s in stack.model.services.items()})
    failures = CheckFailures(engine, stack.specs(), incidents, graph)
    await failures.load()
    yield Alerting(clock, incidents, failures)
    await engine.dispose()


async def test_a_database_outage_pages_once_and_lists_its_symptoms(alerting: Alerting) -> None:
    clock, incidents, failures = alerting

    def result(check_id: str, ok: bool) -> Result:
        return Result(check_id, ok, 1.0, clock.now(), None if ok else "connection refused")

    for _ in range(3):
        for check_id in ("postgres.ping", "worker.queue", "api.health"):
            await failures.handle(result(check_id, False))
        await clock.advance(10)

    [incident] = await incidents.list()
    assert incident.check == "postgres.ping"
    symptoms = [e.text for e in await incidents.timeline(incident.id) if e.kind is EventKind.SYMPTOM]
    assert symptoms == [
        "worker.queue fails too (connection refused); it depends on postgres",
        "api.health fails too (connection refused); it depends on postgres",
    ]

    for check_id in ("postgres.ping", "worker.queue", "api.health"):
        await failures.handle(result(check_id, True))
    [resolved] = await incidents.list()
    assert resolved.status is IncidentStatus.RESOLVED
    assert len(await incidents.list()) == 1


async def test_a_dependent_failing_on_its_own_still_pages(alerting: Alerting) -> None:
    clock, incidents, failures = alerting
    for _ in range(2):
        await failures.handle(Result("postgres.ping", True, 1.0, clock.now()))
        await failures.handle(Result("worker.queue", True, 1.0, clock.now()))
        await failures.handle(Result("api.health", False, 1.0, clock.now(), "status 500, expected 200"))
    assert [i.check for i in await incidents.list()] == ["api.health"]


async def test_a_dependent_waits_for_its_dependencies_next_probe_before_paging(alerting: Alerting) -> None:
    clock, incidents, failures = alerting
    # The API fails first; PostgreSQL (checked every 30 s) has not been probed since.
    await failures.handle(Result("postgres.ping", True, 1.0, clock.now()))
    await failures.handle(Result("worker.queue", True, 1.0, clock.now()))
    await clock.advance(1)
    for _ in range(3):
        await failures.handle(Result("api.health", False, 1.0, clock.now(), "status 500, expected 200"))
        await clock.advance(1)
    assert await incidents.list() == []
    # Its probe finds it down: PostgreSQL pages, the API is its symptom.
    for _ in range(2):
        await failures.handle(Result("postgres.ping", False, 1.0, clock.now(), "connection refused"))
        await failures.handle(Result("api.health", False, 1.0, clock.now(), "status 500, expected 200"))
        await clock.advance(1)
    assert [i.check for i in await incidents.list()] == ["postgres.ping"]


async def test_a_dependent_pages_on_its_own_once_the_hold_is_over(alerting: Alerting) -> None:
    clock, incidents, failures = alerting
    await failures.handle(Result("postgres.ping", True, 1.0, clock.now()))
    await failures.handle(Result("worker.queue", True, 1.0, clock.now()))
    await clock.advance(1)
    await failures.handle(Result("api.health", False, 1.0, clock.now(), "status 500, expected 200"))
    await clock.advance(46)  # longer than 1.5 times the dependencies' 30 s interval, and nothing probed them
    await failures.handle(Result("api.health", False, 1.0, clock.now(), "status 500, expected 200"))
    assert [i.check for i in await incidents.list()] == ["api.health"]
