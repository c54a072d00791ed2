"""The ``opsgenie`` channel against a local stand-in for Opsgenie's Alert API.

Opsgenie cannot be reached from here, so a local aiohttp receiver takes its place and checks each
request as Opsgenie documents it (https://docs.opsgenie.com/docs/alert-api): ``Authorization:
GenieKey <key>``; ``POST /v2/alerts`` with a ``message`` of at most 130 characters, an ``alias``
of at most 512, a ``priority`` of P1 to P5 and ``details`` whose values are strings; ``POST
/v2/alerts/{alias}/acknowledge|close|notes?identifierType=alias`` for the same alert, a note of
at most 25,000 characters. It answers 202 ``{"result": "Request will be processed", …}``, 401
for a wrong key and 422 with a ``message`` for a bad field, as Opsgenie does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import LocalApi, message, open_incident
from vigil.config.load import parse_stack
from vigil.config.pagers import OpsgenieConfig
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.notify.base import DeliveryError, Message, OutboxStatus
from vigil.notify.opsgenie import OpsgenieChannel
from vigil.notify.registry import build_channels
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox

KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}


class Opsgenie(LocalApi):
    """The Alert API as documented: what it was asked, in order."""

    def __init__(self, key: str = KEY) -> None:
        super().__init__()
        self.key = key
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []  # path, query, body

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/alerts", self._create)
        app.router.add_post("/v2/alerts/{alias}/{action:acknowledge|close|notes}", self._act)

    def _refused(self, request: web.Request) -> web.Response | None:
        if self.answer is not None:
            return _answer(self.answer, message="Rate limit exceeded")
        if request.headers.get("Authorization") != f"GenieKey {self.key}":
            # Opsgenie does not repeat the key; this stand-in does, to show the channel masks it.
            given = request.headers.get("Authorization", "")
            return _answer(401, message=f"Could not authenticate with {given}")
        return None

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await request.json()
        text, alias, priority = body.get("message"), body.get("alias"), body.get("priority", "P3")
        if not isinstance(text, str) or not 0 < len(text) <= 130:
            return _answer(422, message="Message can not be empty or longer than 130 characters")
        if not isinstance(alias, str) or len(alias) > 512 or priority not in PRIORITIES:
            return _answer(422, message="Invalid alias or priority")
        if not all(isinstance(v, str) for v in body.get("details", {}).values()):
            return _answer(422, message="Details must be a map of strings")
        self.requests.append((request.path, dict(request.query), body))
        return _answer(202, result="Request will be processed")

    async def _act(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.query.get("identifierType") != "alias":
            return _answer(422, message="identifierType must be alias for an alias")
        body = await request.json()
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > 25_000 or len(str(body.get("user", ""))) > 100:
            return _answer(422, message="Note or user too long")
        self.requests.append((request.path, dict(request.query), body))
        return _answer(202, result="Request will be processed")


def _answer(status: int, **fields: str) -> web.Response:
    return web.json_response({**fields, "took": 0.01, "requestId": str(uuid.uuid4())}, status=status)


@pytest.fixture
async def opsgenie() -> AsyncIterator[Opsgenie]:
    started = await Opsgenie().start()
    yield started
    await started.stop()


def stack_text(url: str) -> str:
    return f"""
notify:
  channels:
    og: {{opsgenie: {{api_key: "${{OG_KEY}}", url: "{url}", tags: [vigil, prod]}}}}
  default: [og]
"""


async def test_an_incident_is_one_alert_created_acknowledged_noted_and_closed_by_its_alias(
    sqlite_engine: AsyncEngine, opsgenie: Opsgenie
) -> None:
    stack = parse_stack("vigil.yaml", stack_text(opsgenie.url), {"OG_KEY": KEY})
    clock = FakeClock()
    incidents = IncidentService(sqlite_engine, stack.model, clock, dashboard_url="http://vigil.test")
    updates = StatusUpdates(incidents)
    worker = OutboxWorker(sqlite_engine, build_channels(stack.model.notify), clock)
    incident = await open_incident(incidents, severity=Severity.P2)
    await worker.run_once()
    await incidents.acknowledge(incident.id, "alice")
    await worker.run_once()
    await updates.post(incident.id, UpdateStatus.IDENTIFIED, "A bad deploy; rolling back", "alice")
    await worker.run_once()
    await incidents.resolve(incident.id, "alice")
    await worker.run_once()
    [(_, _, created), *actions] = opsgenie.requests
    alias = created["alias"]
    assert created["message"] == "[P2] Production API down"
    assert (created["priority"], created["entity"], created["tags"]) == ("P2", "api", ["vigil", "prod"])
    assert created["details"]["check"] == "api.health"
    assert [(path, query) for path, query, _ in actions] == [
        (f"/v2/alerts/{alias}/acknowledge", {"identifierType": "alias"}),
        (f"/v2/alerts/{alias}/notes", {"identifierType": "alias"}),
        (f"/v2/alerts/{alias}/close", {"identifierType": "alias"}),
    ]
    assert actions[0][2]["user"] == "alice"
    assert actions[1][2]["note"].startswith("INCIDENT: [P2] Production API down\n")
    rows = await outbox.for_incident(sqlite_engine, incident.id)
    assert [r.status for r in rows] == [OutboxStatus.DELIVERED] * 4
    for channel in worker.channels.values():
        await channel.close()


async def test_a_wrong_key_is_permanent_with_opsgenies_message_and_the_key_never_shows(
    opsgenie: Opsgenie, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "00000000-dead-beef-0000-000000000000"
    channel = OpsgenieChannel("og", OpsgenieConfig(api_key=wrong, url=opsgenie.url))
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
        await channel.send(message("k", "og"))
    assert caught.value.permanent
    assert str(caught.value) == "opsgenie og answered 401: Could not authenticate with GenieKey ***"
    assert wrong not in caplog.text
    await channel.close()


async def test_rate_limits_and_server_errors_are_worth_retrying(opsgenie: Opsgenie) -> None:
    channel = OpsgenieChannel("og", OpsgenieConfig(api_key=KEY, url=opsgenie.url))
    for status in (429, 502):
        opsgenie.answer = status
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message("k", "og"))
        assert not caught.value.permanent, status
    await channel.close()


async def test_a_long_title_is_cut_to_opsgenies_130_characters_and_accepted(opsgenie: Opsgenie) -> None:
    channel = OpsgenieChannel("og", OpsgenieConfig(api_key=KEY, url=opsgenie.url))
    long = message("k", "og")
    await channel.send(Message(long.key, "og", long.event, {**long.payload, "title": "x" * 400}))
    [(_, _, created)] = opsgenie.requests
    assert len(created["message"]) == 130
    await channel.close()


def test_the_region_chooses_the_api_unless_a_url_is_given() -> None:
    assert OpsgenieConfig(api_key=KEY).base == "https://api.opsgenie.com"
    assert OpsgenieConfig(api_key=KEY, region="eu").base == "https://api.eu.opsgenie.com"
    assert OpsgenieConfig(api_key=KEY, region="eu", url="http://127.0.0.1:1/").base == "http://127.0.0.1:1"
