"""Flapping: an alert that fires and resolves again and again is held, then pages once when it
settles failing, or sends its resolved notice when it settles passing. Rule alerts through the
real evaluator, check results through ``CheckFailures``, pages through the outbox worker to a
real webhook receiver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Receiver
from vigil.alerting.check_failures import CheckFailures
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.probes.base import Result
from vigil.store.outbox import OutboxEntry
from vigil.store.tables import FlapStateRow

STACK = """
notify:
  channels: {hook: {webhook: "HOOK"}}
  default: [hook]
FLAPPING
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", every: 30s, alert: {after: 1, severity: P1}}
alerts:
  - name: ErrorRate
    expr: errors > 1
    severity: P2
"""


@dataclass
class Flaps:
    engine: AsyncEngine
    receiver: Receiver
    changes: int = 5
    firing: bool = False
    clock: FakeClock = field(default_factory=FakeClock)
    flapping: bool = True

    def __post_init__(self) -> None:
        setting = f"flapping: {{changes: {self.changes}, within: 10m, stable: 5m}}" if self.flapping else ""
        stack = parse_stack(
            "vigil.yaml", STACK.replace("HOOK", self.receiver.url).replace("FLAPPING", setting), {}
        )
        self.incidents = IncidentService(self.engine, stack.model, self.clock)

        async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
            return [({"service": "api"}, 5.0)] if self.firing else []

        async def told(entry: OutboxEntry, delivered: bool, error: str | None) -> None:
            await self.incidents.record_delivery(entry.incident_id, entry.channel, entry.event, error)

        async def held(entry: OutboxEntry, reason: str | None) -> None:
            await self.incidents.record_hold(entry.incident_id, entry.channel, reason)

        guard = self.incidents.flaps
        self.rules = RuleEvaluator(stack.model.alerts, query, self.incidents, self.clock, every=60.0)
        self.checks = CheckFailures(self.engine, stack.specs(), self.incidents, clock=self.clock)
        self.worker = OutboxWorker(
            self.engine,
            build_channels(stack.model.notify),
            self.clock,
            on_outcome=told,
            hold=guard.hold if guard else None,
            on_hold=held,
        )

    async def minute(self, firing: bool) -> None:
        """A minute passes; the rule fires or not; the guard settles what is stable; pages go."""
        await self.clock.advance(60)
        self.firing = firing
        await self.rules.evaluate_once()
        await self.settle_and_send()

    async def check(self, ok: bool) -> None:
        await self.clock.advance(30)
        await self.checks.handle(
            Result("api.health", ok, 5.0, self.clock.now(), None if ok else "status 503")
        )
        await self.settle_and_send()

    async def settle_and_send(self) -> None:
        if self.incidents.flaps is not None:
            await self.incidents.flaps.settle()
        await self.worker.run_once()

    def pages(self) -> list[tuple[str, int]]:
        return [(body["event"], body["incident_id"]) for _, body in self.receiver.accepted]

    async def close(self) -> None:
        for channel in self.worker.channels.values():
            await channel.close()


async def test_a_flapping_alert_is_held_then_pages_once_when_it_settles_failing(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    flaps = Flaps(engine, receiver)
    try:
        for firing in (True, False, True, False):
            await flaps.minute(firing)
        assert flaps.pages() == [("triggered", 1), ("resolved", 1), ("triggered", 2), ("resolved", 2)]
        await flaps.minute(True)  # the fifth change in ten minutes: flapping
        for firing in (False, True, False, True):
            await flaps.minute(firing)
        assert len(flaps.pages()) == 4  # nothing while it flaps
        [third] = [i for i in await flaps.incidents.list() if i.id == 3]
        assert third.status is IncidentStatus.TRIGGERED  # held open through its passes
        timeline = await flaps.incidents.timeline(3)
        flapping = [e.text for e in timeline if e.kind is EventKind.FLAPPING]
        assert flapping[0] == "flapping: 5 changes in 10m; paging held until stable for 5m"
        assert flapping[1:] == [
            "passes again while flapping (6 changes in 10m)",
            "fails again while flapping (7 changes in 10m)",
            "passes again while flapping (8 changes in 10m)",
            "fails again while flapping (9 changes in 10m)",
        ]
        assert "not paged: flapping: paging held until stable for 5m" in [e.text for e in timeline]
        for _ in range(4):  # firing, unchanged, for four minutes: still within the five
            await flaps.minute(True)
        assert len(flaps.pages()) == 4
        await flaps.minute(True)  # five minutes without a change: settled failing
        assert flaps.pages()[4:] == [("triggered", 3)]
        for _ in range(3):
            await flaps.minute(True)
        assert flaps.pages()[4:] == [("triggered", 3)]  # once
        texts = [e.text for e in await flaps.incidents.timeline(3)]
        assert "flapping ended: failing for 5m; paging" in texts and "triggered sent to hook" in texts
    finally:
        await flaps.close()


async def test_a_paged_incident_that_starts_flapping_sends_its_resolve_once_it_settles_passing(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    flaps = Flaps(engine, receiver, changes=4)
    try:
        for firing in (True, False, True, False):  # the fourth change, a resolve, begins flapping
            await flaps.minute(firing)
        assert flaps.pages() == [("triggered", 1), ("resolved", 1), ("triggered", 2)]
        for firing in (True, False, True, False):
            await flaps.minute(firing)
        assert flaps.pages() == [("triggered", 1), ("resolved", 1), ("triggered", 2)]
        assert (await flaps.incidents.get(2)).status is IncidentStatus.TRIGGERED
        for _ in range(4):
            await flaps.minute(False)
        assert len(flaps.pages()) == 3
        await flaps.minute(False)
        assert flaps.pages()[3:] == [("resolved", 2)]
        resolved = await flaps.incidents.get(2)
        assert resolved.status is IncidentStatus.RESOLVED
        texts = [e.text for e in await flaps.incidents.timeline(2)]
        assert any(t.startswith("flapping ended: passing for 5m after ") for t in texts)
    finally:
        await flaps.close()


async def test_a_flapping_check_is_held_open_and_not_resolved_while_it_fails(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    flaps = Flaps(engine, receiver, changes=4)
    try:
        for ok in (False, True, False, True):
            await flaps.check(ok)
        assert flaps.pages() == [("triggered", 1), ("resolved", 1), ("triggered", 2)]
        await flaps.check(False)  # fails again while its incident is held open
        texts = [e.text for e in await flaps.incidents.timeline(2) if e.kind is EventKind.FLAPPING]
        assert texts[-1] == "fails again while flapping (5 changes in 10m)"
        for _ in range(12):  # six minutes of failures: settled failing, and paged already
            await flaps.check(False)
        incident = await flaps.incidents.get(2)
        assert incident.status is IncidentStatus.TRIGGERED
        assert flaps.pages() == [("triggered", 1), ("resolved", 1), ("triggered", 2)]
        assert "flapping ended: failing for 5m; paging" in [e.text for e in await flaps.incidents.timeline(2)]
    finally:
        await flaps.close()


async def test_without_flapping_in_the_stack_file_every_change_pages_and_nothing_is_recorded(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    flaps = Flaps(engine, receiver, flapping=False)
    try:
        for firing in (True, False) * 4:
            await flaps.minute(firing)
        assert len(flaps.pages()) == 8
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(FlapStateRow))).scalar_one() == 0
    finally:
        await flaps.close()
