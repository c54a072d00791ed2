"""Real servers for escalation tests: an SMTP server (aiosmtpd) that keeps every mail it is
given, and ``vigil``'s runtime on a fake clock over a fresh store, paging through them."""

from __future__ import annotations

import asyncio
import email
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as Mail
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import free_port
from tests.notify.conftest import Receiver
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime

ACK_LINK = re.compile(r"(?:https?://[^\s/]+)?/ack/vga_[A-Za-z0-9_-]+")
# A Wednesday: alice's week on the primary rotation below.
START = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Delivered:
    to: str
    subject: str
    text: str

    @property
    def ack_link(self) -> str | None:
        found = ACK_LINK.search(self.text)
        return found.group(0) if found else None


class Mailbox:
    """An SMTP server on a free port, in a thread of its own, keeping each mail as it was read."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Delivered] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def url(self, to: str) -> str:
        """The Apprise URL that mails ``to`` through this server (plain SMTP, no login)."""
        return f"mailto://127.0.0.1:{self.port}?to={to}&from=vigil@example.com&mode=insecure"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw)
        text = _plain_text(parsed)
        with self._lock:
            for to in envelope.rcpt_tos:
                self.mails.append(Delivered(to, str(parsed["Subject"]), text))
        return "250 OK"

    def to(self, address: str) -> list[Delivered]:
        with self._lock:
            return [m for m in self.mails if m.to == address]

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def _plain_text(mail: Mail) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8")
    return ""


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


async def eventually(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    """``check()``'s first truthy answer, waiting in real time (pages leave on real threads)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = check()
        if isinstance(answer, Awaitable):
            answer = await answer
        if answer:
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)


def escalation_stack(mailbox: Mailbox, hook: str, *, repeat: int = 0) -> str:
    """Primary (alice) → secondary (bob) → manager (carol), 15 minutes apart; ``hook`` is the
    incident's own channel."""
    return f"""
notify:
  channels:
    hook: {{webhook: "{hook}"}}
  default: [hook]
people:
  alice: {{notify: ["{mailbox.url("alice@example.com")}"]}}
  bob: {{notify: ["{mailbox.url("bob@example.com")}"]}}
  carol: {{notify: ["{mailbox.url("carol@example.com")}"]}}
oncall:
  schedules:
    primary:
      timezone: Europe/London
      rotation: {{every: 1w, handoff: "mon 09:00", start: 2026-01-05}}
      members: [alice]
    secondary:
      timezone: Europe/London
      rotation: {{every: 1w, handoff: "mon 09:00", start: 2026-01-05}}
      members: [bob]
  escalation:
    default:
      steps:
        - {{notify: ["schedule:primary"], wait: 15m}}
        - {{notify: ["schedule:secondary"], wait: 15m}}
        - {{notify: ["person:carol"], wait: 15m}}
      repeat: {repeat}
"""


@asynccontextmanager
async def running(
    engine: AsyncEngine, stack_text: str, clock: FakeClock, *, public_url: str = "http://vigil.test"
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A started runtime (every background task) over ``engine`` and a client of its app."""
    runtime = Runtime(
        parse_stack("vigil.yaml", stack_text, {}), engine, clock=clock, dashboard_url=public_url
    )
    await runtime.start()
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=public_url) as client:
            yield runtime, client
    finally:
        await runtime.stop()


async def open_incident(runtime: Runtime, key: str = "check-group:api") -> int:
    from vigil.incidents.severity import Severity

    opened = await runtime.incidents.open(
        key=key,
        title="api.health is failing",
        severity=Severity.P1,
        service="api",
        check_id=None,
        reason="status 503, expected 200",
        channels=None,
        trigger="api.health failed 3 times in a row: status 503",
        labels={"alertname": "api.health"},
    )
    assert opened is not None
    return opened.id


async def timeline(runtime: Runtime, incident_id: int) -> list[str]:
    return [entry.text for entry in await runtime.incidents.timeline(incident_id)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver (aiohttp) in the test's loop."""
    started = await Receiver().start()
    yield started
    await started.stop()
