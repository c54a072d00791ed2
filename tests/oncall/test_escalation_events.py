"""Only an acknowledgement or a resolve ends an escalation: a note, a status update, a severity
change (also down to a level that does not page and back), an assignee, a commander, a
checklist tick or another incident merged in leaves it at its step, with its next page when
it was."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import sqlite_store_url
from tests.notify.conftest import open_incident
from tests.oncall.conftest import START, Mailbox, escalation_stack
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.lifecycle import Role
from vigil.incidents.service import IncidentService
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.oncall import escalation
from vigil.oncall.escalator import Escalator
from vigil.oncall.service import OnCall
from vigil.store.database import open_database
from vigil.store.tables import OutboxRow

SEVERITIES = """
severities:
  P2: {checklist: ["status page updated"]}
  P4: {pages: false}
"""


@dataclass
class Paging:
    incidents: IncidentService
    escalator: Escalator
    clock: FakeClock

    async def open(self, name: str) -> int:
        given = {"key": f"check:{name}.health", "service": name, "check_id": f"{name}.health"}
        return (await open_incident(self.incidents, **given, title=f"{name}.health is failing")).id

    async def where(self, incident_id: int) -> dict[str, Any]:
        engine = self.incidents.engine
        return (await escalation.views(engine, self.incidents.stack, [incident_id]))[incident_id]

    async def page_keys(self) -> list[str]:
        async with self.incidents.engine.connect() as conn:
            keys = (
                await conn.execute(select(OutboxRow.key).where(OutboxRow.key.contains("escalation")))
            ).scalars()
            return sorted(keys)


@pytest.fixture
async def paging(tmp_path: Path) -> AsyncIterator[Paging]:
    stack = parse_stack("vigil.yaml", escalation_stack(Mailbox(), "http://127.0.0.1:9/hook") + SEVERITIES, {})
    clock = FakeClock(START)
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    incidents = IncidentService(engine, stack.model, clock, dashboard_url="http://vigil.test")
    yield Paging(incidents, Escalator(engine, incidents, OnCall(stack), clock), clock)
    await engine.dispose()


def events(paging: Paging, incident: int, other: int) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    incidents = paging.incidents
    return [
        ("a note", lambda: incidents.add_note(incident, "alice", "the pool is exhausted")),
        (
            "a status update",
            lambda: StatusUpdates(incidents).post(incident, UpdateStatus.INVESTIGATING, "on it", "alice"),
        ),
        ("a severity change", lambda: incidents.set_severity(incident, "alice", "P2")),
        ("an assignee", lambda: incidents.assign(incident, "alice", "alice", Role.ASSIGNEE)),
        ("a commander", lambda: incidents.assign(incident, "alice", "bob", Role.COMMANDER)),
        ("a checklist tick", lambda: incidents.tick(incident, "alice", "status page updated")),
        ("a merge into it", lambda: incidents.merge(other, incident, "alice")),
        ("down to a level that does not page", lambda: incidents.set_severity(incident, "alice", "P4")),
        ("and back to one that does", lambda: incidents.set_severity(incident, "alice", "P1")),
    ]


async def test_events_other_than_ack_and_resolve_leave_the_escalation_at_its_step_and_time(
    paging: Paging,
) -> None:
    incident, other = await paging.open("api"), await paging.open("db")
    assert await paging.escalator.run_once() == 2  # step 1 of each: alice is paged
    paged = await paging.where(incident)
    assert (paged["step"], paged["round"], paged["stopped"]) == (1, 1, None)
    assert paged["next_page_at"] == (START + timedelta(minutes=15)).isoformat()
    keys = await paging.page_keys()

    await paging.clock.advance(300)
    for what, change in events(paging, incident, other):
        await change()
        assert await paging.where(incident) == paged, f"{what} changed the escalation"
        assert await paging.escalator.run_once() == 0, f"{what} made a step due"
        assert await paging.page_keys() == keys, f"{what} paged someone"

    await paging.clock.advance(600)  # 15 minutes after alice's page: bob's turn, as planned
    assert await paging.escalator.run_once() == 1
    after = await paging.where(incident)
    assert (after["step"], after["round"], after["stopped"]) == (2, 1, None)
    assert after["next_page_at"] == (START + timedelta(minutes=30)).isoformat()
