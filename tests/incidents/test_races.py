"""Transitions under races: a change that commits between another's read and write must win,
and the loser is told (409), never silently overwrites it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.tables import IncidentRow


def failing(clock: FakeClock) -> Result:
    return Result("api.health", False, 5.0, clock.now(), "status 500, expected 200")


@pytest.mark.parametrize("change", ["acknowledge", "resolve"])
async def test_a_change_waiting_behind_a_concurrent_resolve_loses_with_a_conflict(
    change: str, incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await incidents.open_for_check(stack.specs()[0], failing(clock), 3)
    assert incident is not None
    # Another instance resolves: its update holds the row (or the database) until it commits.
    async with engine.connect() as other:
        await other.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id)
            .values(status=str(IncidentStatus.RESOLVED), resolved_at=clock.now(), resolved_by="bob")
        )
        if change == "acknowledge":
            racing = asyncio.create_task(incidents.acknowledge(incident.id, "alice"))
        else:
            racing = asyncio.create_task(incidents.resolve(incident.id, "alice", "closing"))
        await asyncio.sleep(0.3)  # the change reads the row and waits on the write lock
        await other.commit()
    with pytest.raises(ConflictError):
        await racing
    after = await incidents.get(incident.id)
    assert after.status is IncidentStatus.RESOLVED
    assert after.resolved_by == "bob"
    assert after.acknowledged_by is None


async def test_a_recovery_after_a_resolve_by_hand_changes_nothing(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await incidents.open_for_check(stack.specs()[0], failing(clock), 3)
    assert incident is not None
    await incidents.resolve(incident.id, "alice")
    assert await incidents.recover("check:api.health", "api.health passed again") is None
    kinds = [str(e.kind) for e in await incidents.timeline(incident.id)]
    assert kinds.count("resolved") == 1
    assert "recovered" not in kinds
