"""Delivery lines ("triggered sent to …") of a burst share commits, and each caller returns only
once its line is stored; a page of no incident writes none. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import open_incident
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService

STACK = "services:\n  api:\n    checks:\n      health: {http: 'http://127.0.0.1:9/health'}\n"


async def test_a_burst_of_delivery_lines_is_stored_in_a_few_commits(engine: AsyncEngine) -> None:
    stack = parse_stack("vigil.yaml", STACK, {})
    incidents = IncidentService(engine, stack.model, FakeClock(), redact=stack.redactor)
    incident = await open_incident(incidents)
    await asyncio.gather(
        *(incidents.record_delivery(incident.id, f"hook-{n}", "triggered", None) for n in range(60)),
        incidents.record_delivery(incident.id, "mail", "triggered", "550 no such user"),
        incidents.record_delivery(None, "hook-x", "triggered", None),
    )
    lines = await incidents.timeline(incident.id)
    sent = [e.text for e in lines if e.kind is EventKind.NOTIFIED]
    assert sorted(sent) == sorted(f"triggered sent to hook-{n}" for n in range(60))
    assert [e.text for e in lines if e.kind is EventKind.NOTIFY_FAILED] == [
        "triggered to mail failed: 550 no such user"
    ]
    assert not any("hook-x" in e.text for e in lines)
    assert 1 <= incidents.deliveries.batch.flushes <= 6
    assert await incidents.deliveries.close()
