"""Status updates through the outbox to a real webhook receiver and a real SMTP server (aiosmtpd),
in the runbooks' wording or the stack file's own.

Apprise sends at most one email per 5.5 s per channel (its own throttle), so few tests mail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Mailbox, Receiver, open_incident
from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, NotFoundError, VigilError
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.notify.base import OutboxStatus
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:HOOK/hook"}
    pager: {pagerduty: {routing_key: "${PD_KEY}", url: "http://127.0.0.1:HOOK/pd"}}
MAIL
TEMPLATES
"""
START = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
KEY = "R0UT1NGKEY0000000000000000000000"


def stack_for(receiver: Receiver, mailbox: Mailbox | None = None, templates: str = "") -> Stack:
    mail = f'    mail: {{apprise: "{mailbox.url()}"}}\n  default: [hook, mail, pager]' if mailbox else ""
    text = STACK.replace("HOOK", str(receiver.port)).replace("MAIL", mail or "  default: [hook, pager]")
    return parse_stack("vigil.yaml", text.replace("TEMPLATES", templates), {"PD_KEY": KEY})


class Setup:
    def __init__(self, engine: AsyncEngine, stack: Stack) -> None:
        self.clock = FakeClock(START)
        self.incidents = IncidentService(
            engine, stack.model, self.clock, dashboard_url="http://vigil.test", redact=stack.redactor
        )
        self.updates = StatusUpdates(self.incidents)
        self.worker = OutboxWorker(engine, build_channels(stack.model.notify), self.clock)

    async def open(self) -> Incident:
        return await open_incident(self.incidents)

    async def drain(self) -> None:
        for _ in range(6):
            await self.worker.run_once()

    async def close(self) -> None:
        for channel in self.worker.channels.values():
            await channel.close()


@pytest.fixture
async def setup(engine: AsyncEngine, receiver: Receiver) -> AsyncIterator[Setup]:
    made = Setup(engine, stack_for(receiver))
    yield made
    await made.close()


async def test_an_update_reaches_the_webhook_and_the_mailbox_after_the_trigger_in_the_runbooks_words(
    engine: AsyncEngine, receiver: Receiver, mailbox: Mailbox
) -> None:
    setup = Setup(engine, stack_for(receiver, mailbox))
    incident = await setup.open()
    await setup.incidents.acknowledge(incident.id, "john")
    await setup.clock.advance(240)
    update = await setup.updates.post(
        incident.id,
        UpdateStatus.INVESTIGATING,
        "Looking at the load balancer",
        "john",
        impact="All users unable to create experiments",
    )
    assert update.message == (
        "INCIDENT: [P1] Production API down\n"
        "- Impact: All users unable to create experiments\n"
        "- Started: 2026-01-15 10:30 UTC\n"
        "- Assigned: @john\n"
        "- Status: Investigating\n"
        "- Update: Looking at the load balancer\n"
        f"http://vigil.test/incidents/{incident.id}\n"
    )
    await setup.drain()
    hooks = [body for _, body in receiver.accepted if body.get("incident_id") == incident.id]
    assert [b["event"] for b in hooks] == ["triggered", "acknowledged", "update"]
    assert hooks[2]["message"] == update.message
    assert hooks[2]["update"]["status"] == "investigating"
    assert hooks[2]["update"]["impact"] == "All users unable to create experiments"
    subjects = [subject for subject, _ in mailbox.texts()]
    assert subjects == [
        "[P1 TRIGGERED] Production API down",
        "[P1 ACKNOWLEDGED] Production API down",
        "[P1 UPDATE] Production API down",
    ]
    await setup.close()
    body = mailbox.texts()[2][1]
    assert "INCIDENT: [P1] Production API down\n- Impact: All users unable" in body.replace("\r\n", "\n")
    # PagerDuty's events have no notes: its channel got the trigger and the acknowledgement only.
    assert [b["event_action"] for h, b in receiver.accepted if "routing_key" in b] == [
        "trigger",
        "acknowledge",
    ]
    timeline = await setup.incidents.timeline(incident.id)
    [line] = [e for e in timeline if e.kind is EventKind.UPDATE]
    assert (line.text, line.actor) == (
        "investigating: Looking at the load balancer (impact: All users unable to create experiments)",
        "john",
    )
    assert [u.id for u in await setup.updates.list(incident.id)] == [update.id]


async def test_a_later_update_keeps_the_impact_stated_before_and_says_unassigned_without_anyone(
    setup: Setup,
) -> None:
    incident = await setup.open()
    first = await setup.updates.post(incident.id, UpdateStatus.INVESTIGATING, "Looking", "ann")
    assert "- Impact: api.health: status 503, expected 200\n" in first.message
    assert "- Assigned: unassigned\n" in first.message
    await setup.updates.post(
        incident.id, UpdateStatus.IDENTIFIED, "Bad deploy", "ann", impact="Checkout fails"
    )
    third = await setup.updates.post(incident.id, UpdateStatus.MONITORING, "Rolled back", "ann")
    assert "- Impact: Checkout fails\n- Started" in third.message
    assert "- Status: Monitoring\n" in third.message


async def test_a_resolved_update_resolves_the_incident_and_its_resolved_notice_follows_the_update(
    setup: Setup, receiver: Receiver
) -> None:
    incident = await setup.open()
    await setup.updates.post(incident.id, UpdateStatus.RESOLVED, "Rolled back to v1.4.2", "john")
    resolved = await setup.incidents.get(incident.id)
    assert (resolved.status, resolved.resolved_by) == (IncidentStatus.RESOLVED, "john")
    await setup.drain()
    events = [b["event"] for _, b in receiver.accepted if b.get("incident_id") == incident.id]
    assert events == ["triggered", "update", "resolved"]
    update = next(b for _, b in receiver.accepted if b.get("event") == "update")
    assert update["message"].startswith("RESOLVED: [P1] Production API down\n")
    # A closing word after the resolve is still taken; a new investigation is not.
    await setup.updates.post(incident.id, UpdateStatus.RESOLVED, "Postmortem on Friday", "john")
    with pytest.raises(ConflictError, match="is resolved; only a resolved update"):
        await setup.updates.post(incident.id, UpdateStatus.INVESTIGATING, "Hm", "john")


async def test_bad_updates_are_refused_with_one_clear_line_and_change_nothing(setup: Setup) -> None:
    incident = await setup.open()
    with pytest.raises(NotFoundError, match="no incident 999"):
        await setup.updates.post(999, UpdateStatus.INVESTIGATING, "x", "ann")
    with pytest.raises(VigilError, match="needs some text"):
        await setup.updates.post(incident.id, UpdateStatus.INVESTIGATING, "   ", "ann")
    with pytest.raises(VigilError, match="at most 10,000 characters"):
        await setup.updates.post(incident.id, UpdateStatus.INVESTIGATING, "x" * 10_001, "ann")
    assert await setup.updates.list(incident.id) == []
    rows = await outbox.for_incident(setup.incidents.engine, incident.id)
    assert {r.event for r in rows} == {"triggered"}


async def test_a_secret_in_an_update_is_masked_in_the_store_the_timeline_and_the_message(
    setup: Setup, receiver: Receiver
) -> None:
    incident = await setup.open()
    update = await setup.updates.post(incident.id, UpdateStatus.IDENTIFIED, f"the key {KEY} leaked", "ann")
    assert KEY not in update.text and KEY not in update.message and "***" in update.message
    await setup.drain()
    assert all(KEY not in str(body) for _, body in receiver.accepted if "routing_key" not in body)
    assert all(KEY not in e.text for e in await setup.incidents.timeline(incident.id))


TEAM_TEMPLATE = """
  templates:
    update: |
      {{ incident.severity }} {{ status | upper }} — {{ incident.title }}
      {{ text }} ({{ actor }}, {{ at }})
"""


async def test_the_stack_files_template_words_the_update(engine: AsyncEngine, receiver: Receiver) -> None:
    made = Setup(engine, stack_for(receiver, None, TEAM_TEMPLATE))
    try:
        incident = await made.open()
        update = await made.updates.post(
            incident.id, UpdateStatus.MONITORING, "Error rate back to 0.1%", "ann"
        )
        assert update.message == (
            "P1 MONITORING — Production API down\nError rate back to 0.1% (ann, 2026-01-15 10:30 UTC)\n"
        )
        await made.drain()
        assert any(b.get("message") == update.message for _, b in receiver.accepted)
    finally:
        await made.close()


async def test_a_template_that_fails_while_rendering_falls_back_to_the_runbooks_words(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    failing = '\n  templates:\n    update: "{{ text | int // 0 }}"\n'
    made = Setup(engine, stack_for(receiver, None, failing))
    try:
        incident = await made.open()
        update = await made.updates.post(incident.id, UpdateStatus.INVESTIGATING, "5", "ann")
        assert update.message.startswith("INCIDENT: [P1] Production API down\n")
    finally:
        await made.close()


async def test_updates_of_an_incident_are_listed_in_order_and_stay_in_the_outbox_order(setup: Setup) -> None:
    incident = await setup.open()
    for n, status in enumerate(UpdateStatus):
        if status is not UpdateStatus.RESOLVED:
            await setup.updates.post(incident.id, status, f"step {n}", "ann")
    assert [u.status for u in await setup.updates.list(incident.id)] == [
        UpdateStatus.INVESTIGATING,
        UpdateStatus.IDENTIFIED,
        UpdateStatus.MONITORING,
    ]
    rows = [r for r in await outbox.for_incident(setup.incidents.engine, incident.id) if r.channel == "hook"]
    assert [r.event for r in rows] == ["triggered", "update", "update", "update"]
    assert all(r.status is OutboxStatus.PENDING for r in rows)
