"""A real webhook receiver (aiohttp, in the test's loop) and real outbox databases."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock
from vigil.notify.base import Message, MessageEvent
from vigil.store.database import open_database
from vigil.store.outbox import enqueue


class Receiver:
    """Records every request; answers ``fail_with`` to the first ``fail_first`` ones, then ``status``.

    Each answer waits ``delay`` seconds; only the first ``delay_first`` ones when that is set.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.status = 200
        self.fail_first = 0
        self.fail_with = 500
        self.delay = 0.0
        self.delay_first = 0
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.accepted: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None

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

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        # Requests still being answered when the test ends are cut short rather than awaited.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
    opened = await open_database(f"sqlite:///{tmp_path}/vigil.db")
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
) -> int:
    async with engine.begin() as conn:
        return await enqueue(
            conn,
            messages,
            now=clock.now(),
            expire_after={m.channel: expire_after for m in messages},
            incident_id=incident_id,
        )
