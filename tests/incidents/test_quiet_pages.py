"""Quiet is judged when a page is sent: a page queued before a silence is held by it, and an
incident that opened during a silence pages once the silence ends with the incident still open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Receiver
from vigil.alerting.quiet import QuietRules
from vigil.config.load import parse_stack
from vigil.config.maintenance import MaintenanceSettings
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.service import IncidentService
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.probes.base import Result
from vigil.store.outbox import OutboxEntry


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    yield started
    await started.stop()


class Paging:
    def __init__(self, engine: AsyncEngine, receiver: Receiver) -> None:
        stack = parse_stack(
            "t.yaml",
            f"""
notify:
  channels: {{hook: {{webhook: "{receiver.url}"}}}}
  default: [hook]
services:
  api:
    checks:
      health: {{http: "http://127.0.0.1:9/", alert: {{after: 1}}}}
""",
            {},
        )
        self.clock = FakeClock()
        self.spec = stack.specs()[0]
        self.quiet = QuietRules(engine, MaintenanceSettings(), self.clock)
        self.incidents = IncidentService(engine, stack.model, self.clock, quiet=self.quiet)

        async def on_hold(entry: OutboxEntry, reason: str | None) -> None:
            await self.incidents.record_hold(entry.incident_id, entry.channel, reason)

        self.worker = OutboxWorker(
            engine, build_channels(stack.model.notify), self.clock, hold=self.quiet.hold, on_hold=on_hold
        )

    def failing(self) -> Result:
        return Result("api.health", False, 1.0, self.clock.now(), "connection refused")


async def test_a_page_queued_before_a_silence_is_held_by_it(engine: AsyncEngine, receiver: Receiver) -> None:
    paging = Paging(engine, receiver)
    incident = await paging.incidents.open_for_check(paging.spec, paging.failing(), 1)
    assert incident is not None
    silence = await paging.quiet.silences.create(
        ["service=api"], comment="restart", created_by="alice", duration=600
    )
    await paging.worker.run_once()
    assert receiver.accepted == []
    texts = [e.text for e in await paging.incidents.timeline(incident.id) if e.kind is EventKind.SUPPRESSED]
    assert texts == [f"not paged: silenced by #{silence.id} (restart, until 00:10 UTC)"]


async def opened_while_silenced(paging: Paging, receiver: Receiver) -> Incident:
    """An incident opened under a one-minute silence, its page held."""
    await paging.quiet.silences.create(["service=api"], comment="restart", created_by="alice", duration=60)
    incident = await paging.incidents.open_for_check(paging.spec, paging.failing(), 1)
    assert incident is not None
    await paging.worker.run_once()
    assert receiver.accepted == []
    return incident


async def test_an_incident_opened_while_silenced_pages_when_the_silence_ends(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    paging = Paging(engine, receiver)
    incident = await opened_while_silenced(paging, receiver)
    await paging.clock.advance(61)
    await paging.worker.run_once()  # sees the silence over: the held page is due again
    await paging.worker.run_once()
    assert [body["event"] for _, body in receiver.accepted] == ["triggered"]
    timeline = [e.text for e in await paging.incidents.timeline(incident.id)]
    assert "quiet ended: paging hook" in timeline


async def test_an_incident_resolved_while_silenced_pages_no_one_not_even_its_resolve(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    paging = Paging(engine, receiver)
    await opened_while_silenced(paging, receiver)
    await paging.incidents.recover_check("api.health", paging.failing())
    await paging.clock.advance(61)
    for _ in range(3):
        await paging.worker.run_once()
    assert receiver.accepted == []
