"""The ``pagerduty`` channel against a local stand-in for PagerDuty's Events API v2.

PagerDuty itself cannot be reached from here, so a local aiohttp receiver takes its place and
checks each event as PagerDuty documents it (https://developer.pagerduty.com/docs/events-api-v2/
trigger-events/): a 32-character ``routing_key``, an ``event_action`` of trigger, acknowledge or
resolve, a ``dedup_key`` of at most 255 characters, and for a trigger a ``payload`` with a
``summary`` of at most 1,024 characters, a ``severity`` of critical, error, warning or info, a
``source``, and an object of ``custom_details``. It answers as PagerDuty does: 202 with
``{"status": "success", "dedup_key": …}``, 400 with ``{"status": "invalid event", "message": …,
"errors": […]}``, or what a test sets (429, 500).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import free_port
from tests.notify.conftest import LocalApi, message, open_incident
from vigil.config.load import parse_stack
from vigil.config.pagers import PagerDutyConfig
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.notify.base import DeliveryError, Message, MessageEvent, OutboxStatus
from vigil.notify.pagerduty import PagerDutyChannel
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox

KEY = "R0UT1NGKEY00000000000000000000AB"
ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


class PagerDuty(LocalApi):
    """Events API v2 as documented: the events it took, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    @property
    def enqueue(self) -> str:
        return f"{self.url}/v2/enqueue"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    async def _enqueue(self, request: web.Request) -> web.Response:
        event = await request.json()
        if self.answer is not None:
            return web.json_response(
                {"status": "throttled", "message": "Requests throttled"}, status=self.answer
            )
        errors = problems(event)
        if errors:
            # PagerDuty names the field at fault; this one also repeats the key, as a careless API might.
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                status=400,
            )
        self.events.append(event)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}, status=202
        )


def problems(event: dict[str, Any]) -> list[str]:
    found = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        found.append(f"Length of 'routing_key' is incorrect (should be 32 characters): {key}")
    if event.get("event_action") not in ACTIONS:
        found.append("'event_action' is invalid")
    dedup = event.get("dedup_key")
    if not isinstance(dedup, str) or not 0 < len(dedup) <= 255:
        found.append("'dedup_key' is invalid")
    if event.get("event_action") == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*found, "'payload' is missing"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            found.append("'payload.summary' is invalid")
        if payload.get("severity") not in SEVERITIES:
            found.append("'payload.severity' is invalid")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            found.append("'payload.source' is missing")
        if not isinstance(payload.get("custom_details", {}), dict):
            found.append("'payload.custom_details' must be an object")
    return found


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDuty]:
    started = await PagerDuty().start()
    yield started
    await started.stop()


def stack_text(url: str, key: str = "${PD_KEY}") -> str:
    return f"""
notify:
  channels:
    pager: {{pagerduty: {{routing_key: "{key}", url: "{url}"}}}}
  default: [pager]
"""


async def test_trigger_acknowledge_and_resolve_share_one_dedup_key_as_pagerduty_documents(
    sqlite_engine: AsyncEngine, pagerduty: PagerDuty
) -> None:
    stack = parse_stack("vigil.yaml", stack_text(pagerduty.enqueue), {"PD_KEY": KEY})
    clock = FakeClock()
    incidents = IncidentService(sqlite_engine, stack.model, clock, dashboard_url="http://vigil.test")
    worker = OutboxWorker(sqlite_engine, build_channels(stack.model.notify), clock)
    incident = await open_incident(incidents)
    await worker.run_once()
    await incidents.acknowledge(incident.id, "alice")
    await worker.run_once()
    await incidents.resolve(incident.id, "alice")
    await worker.run_once()
    assert [e["event_action"] for e in pagerduty.events] == ["trigger", "acknowledge", "resolve"]
    assert len({e["dedup_key"] for e in pagerduty.events}) == 1
    trigger = pagerduty.events[0]
    assert trigger["payload"]["summary"] == "[P1] Production API down: status 503, expected 200"
    assert (trigger["payload"]["severity"], trigger["payload"]["source"]) == ("critical", "api")
    assert trigger["payload"]["custom_details"]["check"] == "api.health"
    assert trigger["links"] == [
        {"href": f"http://vigil.test/incidents/{incident.id}", "text": "The incident in Vigil"}
    ]
    assert "payload" not in pagerduty.events[1]
    rows = await outbox.for_incident(sqlite_engine, incident.id)
    assert {r.status for r in rows} == {OutboxStatus.DELIVERED}
    for channel in worker.channels.values():
        await channel.close()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_worth_retrying(pagerduty: PagerDuty, status: int) -> None:
    pagerduty.answer = status
    channel = PagerDutyChannel("pager", PagerDutyConfig(routing_key=KEY, url=pagerduty.enqueue))
    with pytest.raises(DeliveryError) as caught:
        await channel.send(message("k", "pager"))
    assert not caught.value.permanent
    assert str(caught.value).startswith(f"pagerduty pager answered {status}")
    await channel.close()


async def test_a_refused_event_is_permanent_says_pagerdutys_reason_and_never_the_routing_key(
    sqlite_engine: AsyncEngine, pagerduty: PagerDuty, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "SHORTKEY-0123456789"
    stack = parse_stack("vigil.yaml", stack_text(pagerduty.enqueue), {"PD_KEY": wrong})
    clock = FakeClock()
    incidents = IncidentService(sqlite_engine, stack.model, clock, redact=stack.redactor)
    outcomes: list[str | None] = []

    async def told(entry: outbox.OutboxEntry, delivered: bool, error: str | None) -> None:
        outcomes.append(error)
        await incidents.record_delivery(entry.incident_id, entry.channel, entry.event, error)

    worker = OutboxWorker(sqlite_engine, build_channels(stack.model.notify), clock, on_outcome=told)
    incident = await incidents.open(
        key="k",
        title="t",
        severity=Severity.P2,
        service="api",
        check_id=None,
        reason="r",
        channels=None,
        trigger="x",
    )
    assert incident is not None
    with caplog.at_level(logging.INFO):
        await worker.run_once()
    [error] = outcomes
    assert error is not None
    assert error.startswith("pagerduty pager answered 400: Event object is invalid; Length of 'routing_key'")
    assert wrong not in error and "***" in error
    [row] = await outbox.for_incident(sqlite_engine, incident.id)
    assert row.status is OutboxStatus.FAILED and wrong not in (row.last_error or "")
    failed = [e for e in await incidents.timeline(incident.id) if e.kind is EventKind.NOTIFY_FAILED]
    assert failed and all(wrong not in e.text for e in failed)
    assert wrong not in caplog.text
    for channel in worker.channels.values():
        await channel.close()


async def test_an_unreachable_pagerduty_is_worth_retrying_and_its_error_names_no_key() -> None:
    channel = PagerDutyChannel(
        "pager", PagerDutyConfig(routing_key=KEY, url=f"http://127.0.0.1:{free_port()}/x")
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(message("k", "pager"))
    assert not caught.value.permanent
    assert "unreachable: connection refused" in str(caught.value) and KEY not in str(caught.value)
    await channel.close()


def test_severities_of_each_ready_scheme_map_onto_pagerdutys_scale() -> None:
    channel = PagerDutyChannel("pager", PagerDutyConfig(routing_key=KEY))
    assert channel.config.url == "https://events.pagerduty.com/v2/enqueue"
    levels = {}
    for severity in ("P1", "P2", "P3", "P4", "SEV1", "critical", "low"):
        body = {"severity": severity, "title": "t", "service": "api"}
        event = channel.event(Message("k", "pager", MessageEvent.TRIGGERED, body), "trigger")
        levels[severity] = event["payload"]["severity"]
    assert levels == {
        "P1": "critical",
        "P2": "error",
        "P3": "warning",
        "P4": "info",
        "SEV1": "critical",
        "critical": "critical",
        "low": "info",
    }
