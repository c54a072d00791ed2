"""One outage, one page: the failing checks of a service share one incident, on a real store
(SQLite and PostgreSQL) and a fake clock; a dependent held for its dependency's probe says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.alerting.test_check_pages_again import eventually
from vigil.alerting.check_failures import CheckFailures
from vigil.alerting.inhibition import DependencyGraph
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.probes.base import Result
from vigil.store.tables import OutboxRow

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
    ops: {webhook: "http://127.0.0.1:9/ops"}
  default: [hook]
services:
  api:
    depends_on: [postgres]
    checks:
      health: {http: "http://127.0.0.1:9/health", every: 10s, alert: {after: 2, severity: P2}}
      live: {http: "http://127.0.0.1:9/live", every: 10s, alert: {after: 2, severity: P1}}
      ready: {http: "http://127.0.0.1:9/ready", every: 10s, alert: {after: 2, severity: P3, notify: [hook, ops]}}
      certs: {http: "http://127.0.0.1:9/certs", every: 10s, alert: {after: 1, severity: P4, group: false}}
  postgres:
    checks:
      ping: {postgres: "postgresql://127.0.0.1:9/x", every: 30s, alert: {after: 1, severity: P1}}
"""
API = ("api.health", "api.live", "api.ready")


class Setup(NamedTuple):
    clock: FakeClock
    incidents: IncidentService
    failures: CheckFailures

    async def fail(
        self, *checks: str, times: int = 1, reason: str = "connection refused", db_up: bool = True
    ) -> None:
        """``checks`` fail ``times`` rounds, a second apart; with ``db_up`` PostgreSQL's probe
        passes in each round, so none of the API is held for it."""
        for _ in range(times):
            for check in checks:
                await self.failures.handle(Result(check, False, 1.0, self.clock.now(), reason))
            if db_up:
                await self.failures.handle(Result("postgres.ping", True, 1.0, self.clock.now()))
            await self.clock.advance(1)

    async def pass_(self, *checks: str) -> None:
        for check in checks:
            await self.failures.handle(Result(check, True, 1.0, self.clock.now()))
        await self.clock.advance(1)

    async def lines(self, incident: Incident) -> list[str]:
        return [e.text for e in await self.incidents.timeline(incident.id)]


def start(engine: AsyncEngine, clock: FakeClock | None = None) -> Setup:
    clock = clock or FakeClock()
    stack = parse_stack("vigil.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    graph = DependencyGraph({n: s.depends_on for n, s in stack.model.services.items()})
    return Setup(clock, incidents, CheckFailures(engine, stack.specs(), incidents, graph, clock))


@pytest.fixture
async def setup(engine: AsyncEngine) -> AsyncIterator[Setup]:
    made = start(engine)
    await made.failures.load()
    yield made
    await made.failures.close()


async def test_three_failing_checks_of_a_service_are_one_incident_and_one_page(setup: Setup) -> None:
    await setup.fail(*API, times=2, reason="connection refused")
    [incident] = await setup.incidents.list()
    assert (incident.key, incident.check, incident.service) == ("check-group:api", "api.health", "api")
    lines = await setup.lines(incident)
    assert lines[0] == "api.health failed 2 times in a row: connection refused"
    assert "api.live also failing (2 times in a row): connection refused" in lines
    assert "api.ready also failing (2 times in a row): connection refused" in lines
    # Its severity is the most urgent of its members', and its response target follows.
    assert incident.severity == Severity.P1
    assert "severity raised from P2 to P1 by api.live" in lines
    assert (incident.respond_by - incident.opened_at).total_seconds() == 15 * 60
    # More failures change nothing: a member is noted once.
    await setup.fail(*API, times=3)
    assert await setup.lines(incident) == lines
    # One trigger to hook; ops, which only api.ready pages, got the trigger once, when it joined.
    assert await outbox(setup) == [("hook", "triggered"), ("ops", "triggered")]


async def test_the_incident_resolves_when_the_last_failing_check_passes(setup: Setup) -> None:
    await setup.fail(*API, times=2)
    [incident] = await setup.incidents.list()
    await setup.pass_("api.health")
    await setup.pass_("api.live")
    assert (await setup.incidents.get(incident.id)).status is IncidentStatus.TRIGGERED
    lines = await setup.lines(incident)
    assert "api.health passes again; still failing: api.live, api.ready" in lines
    assert "api.live passes again; still failing: api.ready" in lines
    await setup.pass_("api.ready")
    resolved = await setup.incidents.get(incident.id)
    assert resolved.status is IncidentStatus.RESOLVED
    assert (await setup.lines(incident))[-2:] == ["api.ready passed again after 3s", "resolved by vigil"]
    # A new failure is a new outage: a new incident, a new page.
    await setup.fail("api.live", times=2)
    assert [i.status for i in await setup.incidents.list()] == [
        IncidentStatus.TRIGGERED,
        IncidentStatus.RESOLVED,
    ]


async def test_a_check_that_opts_out_of_the_group_has_its_own_incident(setup: Setup) -> None:
    await setup.fail("api.health", "api.certs", times=2)
    found = {i.key: i for i in await setup.incidents.list()}
    assert set(found) == {"check-group:api", "check:api.certs"}
    assert found["check:api.certs"].severity == Severity.P4
    assert not any("api.certs" in line for line in await setup.lines(found["check-group:api"]))


async def test_a_restart_neither_forgets_a_member_nor_notes_it_twice(engine: AsyncEngine) -> None:
    first = start(engine)
    await first.failures.load()
    await first.fail(*API, times=2)
    [incident] = await first.incidents.list()
    before = await first.lines(incident)
    await first.failures.close()

    again = start(engine, first.clock)  # a new process over the same store
    await again.failures.load()
    await again.fail(*API, times=2)
    assert await again.lines(incident) == before
    await again.pass_("api.health", "api.live")
    assert (await again.incidents.get(incident.id)).status is IncidentStatus.TRIGGERED
    await again.pass_("api.ready")
    assert (await again.incidents.get(incident.id)).status is IncidentStatus.RESOLVED
    await again.failures.close()


async def test_a_held_dependent_says_on_its_incident_what_it_waited_for(engine: AsyncEngine) -> None:
    setup = start(engine)
    await setup.failures.load()
    await setup.fail("api.health", times=2, db_up=False)  # postgres.ping has not run since: held
    assert await setup.incidents.list() == []
    await setup.clock.advance(50)  # past 1.5 times 30 s, and PostgreSQL was never probed
    [incident] = await eventually(setup.incidents.list)
    lines = await setup.lines(incident)
    assert lines == [
        "api.health failing; waiting up to 45s for postgres.ping before paging",
        "api.health failed 2 times in a row: connection refused",
    ]
    timeline = await setup.incidents.timeline(incident.id)
    assert timeline[0].at < timeline[1].at  # dated when the hold began
    await setup.failures.close()


async def test_a_held_dependent_that_turns_out_a_symptom_says_so_on_the_root_incident(
    engine: AsyncEngine,
) -> None:
    setup = start(engine)
    await setup.failures.load()
    await setup.fail("api.health", "api.live", times=2, db_up=False)
    # Its probe finds it down: PostgreSQL pages, the API does not.
    await setup.fail("postgres.ping", db_up=False)
    [incident] = await setup.incidents.list()
    assert incident.key == "check-group:postgres"
    lines = await setup.lines(incident)
    assert "postgres.ping failed 1 time in a row: connection refused" in lines
    for check in ("api.health", "api.live"):
        waits = [line for line in lines if line.startswith(f"{check} failing; waiting up to 45s")]
        assert waits == [f"{check} failing; waiting up to 45s for postgres.ping before paging"]
        assert f"{check} fails too (connection refused); it depends on postgres" in lines
    await setup.failures.close()


async def outbox(setup: Setup) -> list[tuple[str, str]]:
    async with setup.incidents.engine.connect() as conn:
        rows = await conn.execute(select(OutboxRow.channel, OutboxRow.event).order_by(OutboxRow.id))
        return [(channel, event) for channel, event in rows.all()]
