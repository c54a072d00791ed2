"""A storm of alerts reaches a grouped channel as one message per group window: rule alerts
through the real evaluator and incident service, messages through the outbox worker to a real
webhook receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Mailbox, Receiver
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.notify import grouping
from vigil.notify.base import OutboxStatus
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.store.outbox import OutboxEntry
from vigil.store.tables import OutboxRow

STACK = """
notify:
  channels:
    hook: {webhook: "HOOK", group_wait: 30s, group_interval: 5m}
MAILBOX
  default: DEFAULT
alerts:
  - name: InstanceDown
    expr: up == 0
    severity: P2
    group_by: [alertname, instance]
"""


@dataclass
class Storm:
    """A rule over 200 instances, the incident service and a worker with the stack's windows."""

    engine: AsyncEngine
    receiver: Receiver
    mailbox: Mailbox | None = None
    down: set[int] = field(default_factory=set)
    clock: FakeClock = field(default_factory=FakeClock)
    held_service: str | None = None

    def __post_init__(self) -> None:
        mail = f'    mail: {{apprise: "{self.mailbox.url()}", group_wait: 30s}}' if self.mailbox else ""
        text = STACK.replace("HOOK", self.receiver.url).replace("MAILBOX", mail)
        stack = parse_stack("vigil.yaml", text.replace("DEFAULT", "[hook, mail]" if mail else "[hook]"), {})
        self.incidents = IncidentService(
            self.engine, stack.model, self.clock, dashboard_url="http://vigil.test"
        )

        async def query(rule: AlertRule, at: float) -> list[tuple[Mapping[str, str], float]]:
            return [
                ({"instance": f"10.0.{n // 250}.{n % 250}", "service": f"svc{n % 20}"}, 0.0)
                for n in sorted(self.down)
            ]

        async def hold(entry: OutboxEntry) -> str | None:
            return "silenced" if entry.payload.get("service") == self.held_service else None

        async def told(entry: OutboxEntry, delivered: bool, error: str | None) -> None:
            await self.incidents.record_delivery(entry.incident_id, entry.channel, entry.event, error)

        self.rules = RuleEvaluator(stack.model.alerts, query, self.incidents, self.clock, every=15.0)
        self.worker = OutboxWorker(
            self.engine,
            build_channels(stack.model.notify),
            self.clock,
            windows=grouping.windows(stack.model.notify),
            hold=hold,
            on_outcome=told,
        )

    async def at(self, seconds: float) -> None:
        """Move the clock to ``seconds`` after the start, evaluate the rule and run the worker."""
        await self.clock.advance(seconds - self.clock.monotonic())
        await self.rules.evaluate_once()
        await self.worker.run_once()

    def groups(self) -> list[dict[str, Any]]:
        return [body for _, body in self.receiver.accepted if body["event"] == "group"]

    async def close(self) -> None:
        for channel in self.worker.channels.values():
            await channel.close()


@pytest.fixture
async def storm(engine: AsyncEngine, receiver: Receiver) -> AsyncIterator[Storm]:
    made = Storm(engine, receiver)
    yield made
    await made.close()


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    from sqlalchemy import func, select

    async with engine.connect() as conn:
        rows = await conn.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        return {status: count for status, count in rows.all()}


async def test_a_storm_of_200_alerts_is_one_message_per_channel_per_window(
    engine: AsyncEngine, receiver: Receiver, mailbox: Mailbox
) -> None:
    storm = Storm(engine, receiver, mailbox)
    try:
        storm.down = set(range(150))
        await storm.at(0)
        assert len(await storm.incidents.list(limit=1000)) == 150
        assert receiver.requests == [] and mailbox.messages == []  # the window waits 30 s
        storm.down = set(range(200))
        await storm.at(10)
        assert receiver.requests == []
        await storm.at(30)
        [group] = storm.groups()
        assert group["count"] == 200 and group["counts"] == {"triggered": 200}
        assert group["title"] == "[Vigil] 200 notifications (200 triggered; 200 P2)"
        keys = [m["idempotency_key"] for m in group["messages"]]
        assert len(set(keys)) == 200
        assert {m["title"] for m in group["messages"]} == {"InstanceDown"}
        assert len(mailbox.messages) == 1
        subject, body = mailbox.texts()[0]
        assert subject == group["title"]
        lines = body.replace("\r\n", "\n").strip().splitlines()
        assert lines[0] == "[P2 TRIGGERED] InstanceDown http://vigil.test/incidents/1"
        assert len(lines) == 51 and lines[-1] == "… and 150 more, listed on the dashboard"
        assert await statuses(engine) == {"delivered": 400}
        timeline = await storm.incidents.timeline(200)
        # One line per channel; the two groups' sends finish in either order.
        assert sorted(e.text for e in timeline if e.kind == "notified") == [
            "triggered sent to hook",
            "triggered sent to mail",
        ]

        # All clear at 60 s: the resolved notices wait for the next window, 5 minutes after the last.
        storm.down = set()
        await storm.at(60)
        await storm.at(300)
        assert len(storm.groups()) == 1
        await storm.at(330)
        assert [g["counts"] for g in storm.groups()] == [{"triggered": 200}, {"resolved": 200}]
        assert len(mailbox.messages) == 2
        assert await statuses(engine) == {"delivered": 800}
    finally:
        await storm.close()


async def test_a_failed_group_is_sent_again_whole_under_the_same_key(
    storm: Storm, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    storm.down = set(range(30))
    await storm.at(0)
    await storm.at(30)
    assert receiver.accepted == [] and len(receiver.requests) == 1
    assert await statuses(storm.engine) == {"pending": 30}
    await storm.at(32)  # the first retry is due about a second later
    [first, second] = [body for _, body in receiver.requests]
    assert first["idempotency_key"] == second["idempotency_key"] and second["count"] == 30
    assert await statuses(storm.engine) == {"delivered": 30}


async def test_quiet_keeps_its_pages_out_of_the_group(storm: Storm) -> None:
    storm.held_service = "svc3"
    storm.down = set(range(40))
    await storm.at(0)
    await storm.at(30)
    [group] = storm.groups()
    assert group["count"] == 38
    assert all(m["service"] != "svc3" for m in group["messages"])
    assert await statuses(storm.engine) == {"delivered": 38, str(OutboxStatus.HELD): 2}


async def test_a_lone_message_in_a_window_goes_as_itself(storm: Storm, receiver: Receiver) -> None:
    storm.down = {7}
    await storm.at(0)
    assert receiver.requests == []
    await storm.at(30)
    [(_, body)] = receiver.accepted
    assert (body["event"], body["title"]) == ("triggered", "InstanceDown")
