"""Failure counting on a fake clock: N in a row opens, a pass resolves, restarts keep the count."""

from __future__ import annotations

from pathlib import Path

from vigil.alerting.check_failures import CheckFailures
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.database import open_database

STACK = """
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/", every: 10s, alert: {after: 3, severity: P1}}
      sticky: {http: "http://127.0.0.1:9/s", alert: {after: 1, auto_resolve: false}}
"""


def result(clock: FakeClock, ok: bool, check_id: str = "api.health") -> Result:
    return Result(check_id, ok, 3.0, clock.now(), None if ok else "connection refused")


async def build(url: str, clock: FakeClock) -> tuple[CheckFailures, IncidentService]:
    engine = await open_database(url)
    stack = parse_stack("t.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, clock)
    failures = CheckFailures(engine, stack.specs(), incidents)
    await failures.load()
    return failures, incidents


async def test_an_incident_opens_on_the_third_failure_in_a_row_and_not_before(tmp_path: Path) -> None:
    clock = FakeClock()
    failures, incidents = await build(f"sqlite:///{tmp_path}/v.db", clock)
    for ok in (False, False, True, False, False):
        await failures.handle(result(clock, ok))
        await clock.advance(10)
    assert await incidents.list() == []
    await failures.handle(result(clock, False))
    opened = await incidents.list()
    assert [(i.check, i.status) for i in opened] == [("api.health", IncidentStatus.TRIGGERED)]
    for _ in range(5):
        await failures.handle(result(clock, False))
    assert len(await incidents.list()) == 1
    await failures.handle(result(clock, True))
    assert [i.status for i in await incidents.list()] == [IncidentStatus.RESOLVED]
    await incidents.engine.dispose()


async def test_the_failure_count_and_the_open_incident_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"sqlite:///{tmp_path}/v.db"
    failures, incidents = await build(url, clock)
    await failures.handle(result(clock, False))
    await failures.handle(result(clock, False))
    await incidents.engine.dispose()

    failures, incidents = await build(url, clock)  # a new process: counts come from the store
    await failures.handle(result(clock, False))
    assert len(await incidents.list()) == 1
    await incidents.engine.dispose()

    failures, incidents = await build(url, clock)
    await failures.handle(result(clock, False))
    assert len(await incidents.list()) == 1
    await failures.handle(result(clock, True))
    assert [i.status for i in await incidents.list()] == [IncidentStatus.RESOLVED]
    await incidents.engine.dispose()


async def test_a_check_without_auto_resolve_stays_open_after_it_passes(tmp_path: Path) -> None:
    clock = FakeClock()
    failures, incidents = await build(f"sqlite:///{tmp_path}/v.db", clock)
    await failures.handle(result(clock, False, "api.sticky"))
    await failures.handle(result(clock, True, "api.sticky"))
    assert [i.status for i in await incidents.list()] == [IncidentStatus.TRIGGERED]
    await incidents.engine.dispose()
