"""Whether a check has an open incident is the store's fact, not a memory: an incident resolved
by hand, or by another instance, while the check still fails lets the next failure page again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.check_failures import CheckFailures
from vigil.alerting.inhibition import DependencyGraph
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.tables import CheckStateRow

STACK = """
services:
  api:
    depends_on: [postgres]
    checks:
      health: {http: "http://127.0.0.1:9/", every: 5m, alert: {after: 1}}
  worker:
    checks:
      sticky: {http: "http://127.0.0.1:9/s", alert: {after: 1, auto_resolve: false}}
  postgres:
    checks:
      ping: {postgres: "postgresql://127.0.0.1:9/x", every: 10s, alert: {after: 2, severity: P1}}
"""


def failed(clock: FakeClock, check_id: str) -> Result:
    return Result(check_id, False, 1.0, clock.now(), "connection refused")


def passed(clock: FakeClock, check_id: str) -> Result:
    return Result(check_id, True, 1.0, clock.now())


async def eventually(read: Callable[[], Awaitable[list[Incident]]]) -> list[Incident]:
    """What ``read`` returns once it is not empty: a timer's page is written on the event loop."""
    for _ in range(100):
        if found := await read():
            return found
        await asyncio.sleep(0.02)
    return []


def instance(engine: AsyncEngine, clock: FakeClock) -> tuple[CheckFailures, IncidentService]:
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    graph = DependencyGraph({n: s.depends_on for n, s in stack.model.services.items()})
    return CheckFailures(engine, stack.specs(), incidents, graph), incidents


async def test_a_check_resolved_by_hand_while_still_failing_pages_on_its_next_failure(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    failures, incidents = instance(engine, clock)
    await failures.load()
    await failures.handle(failed(clock, "worker.sticky"))
    [first] = await incidents.list()
    await incidents.resolve(first.id, "alice")
    await clock.advance(30)
    await failures.handle(failed(clock, "worker.sticky"))
    second, resolved = await incidents.list()
    assert (second.status, resolved.id) == (IncidentStatus.TRIGGERED, first.id)
    assert second.check == "worker.sticky"


async def test_a_resolve_by_another_instance_lets_this_one_page_again(engine: AsyncEngine) -> None:
    clock = FakeClock()
    here, incidents = instance(engine, clock)
    there, their_incidents = instance(engine, clock)
    await here.load()
    await there.load()
    await here.handle(passed(clock, "postgres.ping"))
    for _ in range(2):
        await here.handle(failed(clock, "postgres.ping"))
        await clock.advance(10)
    [first] = await incidents.list()
    await their_incidents.resolve(first.id, "bob")
    await here.handle(failed(clock, "postgres.ping"))
    assert [i.status for i in await incidents.list()] == [IncidentStatus.TRIGGERED, IncidentStatus.RESOLVED]


async def test_a_dependent_joins_the_reopened_incident_of_its_dependency(engine: AsyncEngine) -> None:
    clock = FakeClock()
    failures, incidents = instance(engine, clock)
    await failures.load()
    for _ in range(2):
        await failures.handle(failed(clock, "postgres.ping"))
        await clock.advance(10)
    [first] = await incidents.list()
    await incidents.resolve(first.id, "alice")  # while PostgreSQL is still down
    await failures.handle(failed(clock, "postgres.ping"))
    await failures.handle(failed(clock, "api.health"))
    reopened = (await incidents.list())[0]
    assert reopened.check == "postgres.ping" and reopened.is_open
    symptoms = [e.text for e in await incidents.timeline(reopened.id) if e.kind is EventKind.SYMPTOM]
    assert symptoms == ["api.health fails too (connection refused); it depends on postgres"]
    assert len(await incidents.list()) == 2


async def held_api(engine: AsyncEngine, clock: FakeClock) -> tuple[CheckFailures, IncidentService]:
    """The API (every 5m) fails one second after PostgreSQL passed: held for PostgreSQL's next probe."""
    failures, incidents = instance(engine, clock)
    await failures.load()
    await failures.handle(passed(clock, "postgres.ping"))
    await clock.advance(1)
    await failures.handle(failed(clock, "api.health"))
    assert await incidents.list() == []
    return failures, incidents


async def test_a_held_dependent_pages_when_its_dependency_passes_not_on_its_own_next_probe(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    failures, incidents = await held_api(engine, clock)
    await clock.advance(9)
    await failures.handle(passed(clock, "postgres.ping"))
    [incident] = await incidents.list()
    assert incident.check == "api.health"
    assert incident.opened_at == clock.now()
    await failures.close()


async def test_a_held_dependent_pages_when_its_hold_runs_out_with_nothing_else_reporting(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    failures, incidents = await held_api(engine, clock)
    await clock.advance(14)  # the hold: one and a half of PostgreSQL's 10 s interval
    assert await incidents.list() == []
    await clock.advance(1)
    [incident] = await eventually(incidents.list)
    assert incident.check == "api.health"
    assert (incident.opened_at - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() == 16
    await failures.close()


async def test_the_state_records_when_a_check_last_changed_so_a_restart_keeps_the_hold(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    failures, _ = instance(engine, clock)
    await failures.load()
    await failures.handle(failed(clock, "worker.sticky"))
    await clock.advance(30)
    await failures.handle(passed(clock, "worker.sticky"))
    await clock.advance(30)
    await failures.handle(passed(clock, "worker.sticky"))
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(CheckStateRow).where(CheckStateRow.check_id == "worker.sticky"))
        ).one()
    changed = row.changed_at.replace(tzinfo=UTC) if row.changed_at.tzinfo is None else row.changed_at
    assert (changed - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() == 30

    # After a restart, a dependent whose failure began just now still waits for PostgreSQL.
    await failures.handle(passed(clock, "postgres.ping"))
    await clock.advance(1)
    await failures.handle(failed(clock, "api.health"))
    restarted, incidents = instance(engine, clock)
    await restarted.load()
    assert restarted.state["api.health"].since == clock.now().timestamp()
    await restarted.handle(failed(clock, "api.health"))
    assert await incidents.list() == [] or all(i.check != "api.health" for i in await incidents.list())
    await failures.close()
    await restarted.close()


async def test_a_failure_counted_just_before_a_crash_pages_when_vigil_starts_again(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    failures, incidents = instance(engine, clock)
    await failures.load()
    await failures._save(failed(clock, "worker.sticky"), 1, clock.now().timestamp())  # then kill -9
    assert await incidents.list() == []
    restarted, incidents = instance(engine, clock)
    await restarted.load()
    [incident] = await incidents.list()
    assert (incident.check, incident.reason) == ("worker.sticky", "connection refused")
    await restarted.close()
