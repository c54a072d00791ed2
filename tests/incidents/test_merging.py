"""Merging two incidents of one outage, on SQLite and PostgreSQL: the duplicate is resolved
"merged into #N" with its timeline kept, and a later failure of its key goes to the survivor."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.check_failures import CheckFailures
from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError
from vigil.incidents.opening import OpenRequest
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.tables import IncidentRow, OutboxRow

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
  default: [hook]
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1, severity: P1, group: false}}
      live: {http: "http://127.0.0.1:9/live", alert: {after: 1, severity: P2, group: false}}
"""


@pytest.fixture
def stack() -> Stack:
    return parse_stack("vigil.yaml", STACK, {})


def result(clock: FakeClock, check: str, ok: bool) -> Result:
    return Result(check, ok, 5.0, clock.now(), None if ok else "status 500, expected 200")


async def texts(incidents: IncidentService, incident_id: int) -> list[str]:
    return [f"{e.kind}: {e.text}" for e in await incidents.timeline(incident_id)]


async def incident_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return len((await conn.execute(select(IncidentRow.id))).all())


async def test_the_duplicate_is_resolved_merged_into_the_survivor_with_both_timelines_linked(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    health, live = stack.specs()
    survivor = await incidents.open_for_check(health, result(clock, "api.health", False), 1)
    duplicate = await incidents.open_for_check(live, result(clock, "api.live", False), 1)
    assert survivor is not None and duplicate is not None
    answered = await incidents.merge(duplicate.id, survivor.id, "ana")
    assert (answered.id, answered.status) == (survivor.id, IncidentStatus.TRIGGERED)
    merged = await incidents.get(duplicate.id)
    assert (merged.status, merged.merged_into, merged.resolved_by) == (
        IncidentStatus.RESOLVED,
        survivor.id,
        "ana",
    )
    assert await incidents.merged_here(survivor.id) == [duplicate.id]
    assert (await texts(incidents, duplicate.id))[-2:] == [
        f"merged: merged into #{survivor.id} (api.health is failing) by ana",
        f"resolved: resolved by ana: merged into #{survivor.id}",
    ]
    assert (await texts(incidents, survivor.id))[
        -1
    ] == f"merged: #{duplicate.id} (api.live is failing) merged here by ana"
    async with engine.connect() as conn:
        events = (
            await conn.execute(select(OutboxRow.event).where(OutboxRow.incident_id == duplicate.id))
        ).all()
    assert [e for (e,) in events] == ["triggered", "resolved"]  # whoever was paged hears it is over


async def test_merging_is_refused_into_itself_into_a_resolved_incident_or_for_a_resolved_one(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    health, live = stack.specs()
    first = await incidents.open_for_check(health, result(clock, "api.health", False), 1)
    second = await incidents.open_for_check(live, result(clock, "api.live", False), 1)
    assert first is not None and second is not None
    with pytest.raises(ConflictError, match="cannot be merged into itself"):
        await incidents.merge(first.id, first.id, "ana")
    await incidents.resolve(first.id, "ana")
    with pytest.raises(
        ConflictError, match=f"incident {first.id} is resolved; only open incidents can be merged"
    ):
        await incidents.merge(second.id, first.id, "ana")
    with pytest.raises(
        ConflictError, match=f"incident {first.id} is resolved; only open incidents can be merged"
    ):
        await incidents.merge(first.id, second.id, "ana")
    assert (await incidents.get(second.id)).status is IncidentStatus.TRIGGERED
    assert (await incidents.get(first.id)).merged_into is None
    third = await incidents.open_manual("Chat not responding", "P2", "ana")
    await incidents.merge(second.id, third.id, "ana")
    with pytest.raises(ConflictError, match=f"merged into #{third.id}; reopen that one instead"):
        await incidents.reopen(second.id, "ana", "it is back")


async def test_a_later_failure_of_a_merged_check_goes_to_the_survivor_until_it_resolves(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    failures = CheckFailures(engine, stack.specs(), incidents, clock=clock)
    await failures.handle(result(clock, "api.health", False))
    await failures.handle(result(clock, "api.live", False))
    survivor, duplicate = await incidents.open_for("api.health"), await incidents.open_for("api.live")
    assert survivor is not None and duplicate is not None and survivor.id != duplicate.id
    await incidents.merge(duplicate.id, survivor.id, "ana")
    # The merged check keeps failing, passes, fails again: no incident of its own while the
    # survivor is open; its recovery is noted there and does not resolve it.
    await clock.advance(30)
    await failures.handle(result(clock, "api.live", False))
    assert (await incidents.open_for("api.live")) == await incidents.open_for("api.health")
    await failures.handle(result(clock, "api.live", True))
    assert (await texts(incidents, survivor.id))[-1] == "note: api.live passed again (merged here)"
    assert (await incidents.get(survivor.id)).status is IncidentStatus.TRIGGERED
    await failures.handle(result(clock, "api.live", False))
    assert await incident_count(engine) == 2
    # Once the survivor is resolved, the key is its own again.
    await incidents.resolve(survivor.id, "ana")
    await failures.handle(result(clock, "api.live", False))
    fresh = await incidents.open_for("api.live")
    assert fresh is not None and fresh.id not in (survivor.id, duplicate.id)


async def test_a_rule_alert_of_a_merged_group_joins_the_survivor(
    incidents: IncidentService, clock: FakeClock, engine: AsyncEngine
) -> None:
    def request(key: str, name: str) -> OpenRequest:
        return OpenRequest(
            key, name, "P2", "api", None, name, None, f"{name} firing", {"alertname": name}, join=True
        )

    survivor, duplicate = await incidents.open_many([request("alert:A:1", "A"), request("alert:B:1", "B")])
    assert survivor is not None and duplicate is not None
    await incidents.merge(duplicate.id, survivor.id, "ana")
    assert await incidents.open_many([request("alert:B:1", "B")]) == [None]
    assert (await texts(incidents, survivor.id))[-1] == "note: also B firing"
    assert await incident_count(engine) == 2
