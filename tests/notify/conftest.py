"""A real webhook receiver (aiohttp, in the test's loop), a real SMTP server (aiosmtpd) and real
outbox databases."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from vigil.engine.clock import Clock
from vigil.incidents.model import Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.notify.base import Message, MessageEvent
from vigil.store.database import open_database
from vigil.store.outbox import enqueue


class LocalApi:
    """A stand-in for an outside API (PagerDuty, Opsgenie) on a free local port; subclasses add
    the routes, each checking requests as the API documents them."""

    def __init__(self, port: int = 0) -> None:
        self.answer: int | None = None  # a status to answer instead of judging the request
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        # Requests still being answered when the test ends are cut short rather than awaited.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # started again on its port
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Receiver(LocalApi):
    """Records every request; answers ``fail_with`` to the first ``fail_first`` ones, then ``status``.

    Each answer waits ``delay`` seconds; only the first ``delay_first`` ones when that is set.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.status = 200
        self.fail_first = 0
        self.fail_with = 500
        self.delay = 0.0
        self.delay_first = 0
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.accepted: list[tuple[dict[str, str], dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def shown(self) -> str:
        """The receiver's URL as error messages show it: the path hidden."""
        return f"http://127.0.0.1:{self.port}/…"

    def keys(self) -> Counter[str]:
        """Accepted deliveries per idempotency key."""
        return Counter(headers["Idempotency-Key"] for headers, _ in self.accepted)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{path:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        headers = dict(request.headers)
        self.requests.append((headers, body))
        if self.delay and (not self.delay_first or len(self.requests) <= self.delay_first):
            await asyncio.sleep(self.delay)
        if len(self.requests) <= self.fail_first:
            return web.Response(status=self.fail_with)
        if self.status < 300:
            self.accepted.append((headers, body))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    yield started
    await started.stop()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    opened = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield opened
    await opened.dispose()


def message(key: str, channel: str = "ops-hook", event: MessageEvent = MessageEvent.TRIGGERED) -> Message:
    payload = {
        "incident_id": 7,
        "event": str(event),
        "title": "api.health is failing",
        "severity": "P1",
        "service": "api",
        "check": "api.health",
        "reason": "status 503, expected 200",
        "url": "http://vigil.local/incidents/7",
    }
    return Message(key, channel, event, payload)


async def put(
    engine: AsyncEngine,
    clock: Clock,
    messages: Sequence[Message],
    *,
    expire_after: float = 3600.0,
    incident_id: int | None = 7,
    stack: str | None = None,
) -> int:
    async with engine.begin() as conn:
        return await enqueue(
            conn,
            messages,
            now=clock.now(),
            expire_after={m.channel: expire_after for m in messages},
            incident_id=incident_id,
            stack=stack,
        )


class Mailbox:
    """A real SMTP server (aiosmtpd, on its own thread) on a free port; keeps every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None
        self.port = 0

    def url(self, to: str = "oncall@example.com") -> str:
        """An Apprise ``mailto://`` URL that sends to this server, in plain SMTP."""
        return f"mailto://127.0.0.1:{self.port}?from=vigil@example.com&to={to}&mode=insecure"

    def start(self) -> Mailbox:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(message_from_bytes(content, _class=EmailMessage, policy=policy.default))
        return "250 OK"

    def texts(self) -> list[tuple[str, str]]:
        """Each message's subject and plain-text body."""
        found = []
        for mail in self.messages:
            part = mail.get_body(preferencelist=("plain",))
            found.append((str(mail["Subject"]), part.get_content() if part is not None else ""))
        return found


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    started = Mailbox().start()
    yield started
    started.stop()


async def open_incident(incidents: IncidentService, **given: Any) -> Incident:
    """Open a realistic incident ("Production API down", P1, on api.health) through the service."""
    fields: dict[str, Any] = {
        "key": "check:api.health",
        "title": "Production API down",
        "severity": Severity.P1,
        "service": "api",
        "check_id": "api.health",
        "reason": "status 503, expected 200",
        "channels": None,
        "trigger": "api.health failed 3 times in a row: status 503, expected 200",
    }
    incident = await incidents.open(**{**fields, **given})
    if incident is None:
        raise AssertionError(f"an incident for {fields['key']} was open already")
    return incident
