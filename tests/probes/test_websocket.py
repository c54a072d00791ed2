"""The ``websocket`` probe against a real local aiohttp WebSocket server: one route echoes, one
answers wrong, one never replies, one refuses the handshake with 403."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from vigil.config.load import parse_stack
from vigil.engine.once import run_once
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.websocket import REPLY_LIMIT, WebsocketCheck


async def accept(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    return ws


CLOSES = web.AppKey("closes", list)


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
    request.app[CLOSES].append(ws.close_code)
    return ws


async def wrong(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str('{"status": "degraded", "queue": {"depth": 500}}')
    return ws


async def silent(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    async for _ in ws:  # reads (so that a goodbye is answered) and never replies
        pass
    return ws


async def forbidden(request: web.Request) -> web.Response:
    return web.Response(status=403, text="no token")


async def greet(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    await ws.send_json({"hello": "vigil", "version": 2})
    async for _ in ws:
        pass
    return ws


async def token(request: web.Request) -> web.WebSocketResponse:
    """Replies with the handshake's Authorization header: a server that leaks what it was sent."""
    ws = await accept(request)
    await ws.receive()
    await ws.send_str(f"denied for {request.headers.get('Authorization', '')}")
    async for _ in ws:
        pass
    return ws


async def bye(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"unsubscribed")
    return ws


async def huge(request: web.Request) -> web.WebSocketResponse:
    ws = await accept(request)
    await ws.receive()
    await ws.send_str("x" * (REPLY_LIMIT + 1))
    async for _ in ws:
        pass
    return ws


@pytest.fixture
def closes() -> list[int | None]:
    """The close code of each finished /echo connection, as the server saw it."""
    return []


@pytest.fixture
async def base(closes: list[int | None]) -> AsyncIterator[str]:
    app = web.Application()
    app[CLOSES] = closes
    for path, handler in {
        "/echo": echo,
        "/wrong": wrong,
        "/silent": silent,
        "/forbidden": forbidden,
        "/greet": greet,
        "/token": token,
        "/bye": bye,
        "/huge": huge,
    }.items():
        app.router.add_get(path, handler)
    app_runner = web.AppRunner(app, shutdown_timeout=0)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    yield f"ws://127.0.0.1:{app_runner.addresses[0][1]}"
    await app_runner.cleanup()


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("feed", "socket", WebsocketCheck.model_validate(fields)))


async def test_a_handshake_alone_passes_and_reports_how_long_it_took(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/silent")

    assert (result.ok, result.reason) == (True, None)
    assert 0 < result.values["connect_ms"] < 1000
    assert "reply_ms" not in result.values


async def test_a_reply_matching_the_pattern_passes_with_its_time(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/echo", send="ping", expect={"reply_matches": "^pi"})

    assert (result.ok, result.reason) == (True, None)
    assert 0 < result.values["reply_ms"] < 1000


async def test_a_mapping_is_sent_as_json_and_the_reply_judged_by_json_conditions(
    runner: CheckRunner, base: str
) -> None:
    result = await run(
        runner,
        websocket=f"{base}/echo",
        send={"op": "ping", "n": 3},
        expect={"json": ["op == ping", "n < 5"]},
    )

    assert (result.ok, result.reason) == (True, None)


async def test_a_wrong_reply_says_which_condition_failed(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/wrong", send="status", expect={"json": {"status": "ok"}})

    assert (result.ok, result.reason) == (False, 'wrong reply: json status == "degraded", expected "ok"')
    assert "reply_ms" in result.values


async def test_a_reply_not_matching_the_pattern_shows_the_reply(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/echo", send="pong", expect={"reply_matches": "^ping$"})

    assert (result.ok, result.reason) == (False, 'wrong reply: "pong" does not match /^ping$/')


async def test_a_reply_that_is_not_json_says_so(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/echo", send="hello", expect={"json": {"status": "ok"}})

    assert (result.ok, result.reason) == (
        False,
        'wrong reply: not JSON (Expecting value at column 1): "hello"',
    )


async def test_no_reply_within_the_timeout_says_so_and_keeps_the_connect_time(
    runner: CheckRunner, base: str
) -> None:
    result = await run(runner, websocket=f"{base}/silent", send="ping", timeout="1s")

    assert (result.ok, result.reason) == (False, "no reply within 1s")
    assert "connect_ms" in result.values
    assert result.duration_ms < 1500


async def test_a_refused_handshake_says_its_status(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/forbidden", send="ping")

    assert (result.ok, result.reason) == (False, "handshake status 403, expected 101")


async def test_a_greeting_is_judged_when_nothing_is_sent(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/greet", expect={"json": {"hello": "vigil"}})

    assert (result.ok, result.reason) == (True, None)


async def test_a_server_that_closes_instead_of_replying_says_its_close_code(
    runner: CheckRunner, base: str
) -> None:
    result = await run(runner, websocket=f"{base}/bye", send="ping")

    assert (result.ok, result.reason) == (
        False,
        "server closed the connection without replying (code 1008: unsubscribed)",
    )


async def test_a_reply_larger_than_the_limit_is_refused_unread(runner: CheckRunner, base: str) -> None:
    result = await run(runner, websocket=f"{base}/huge", send="ping")

    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("reply unreadable: ")


async def test_a_refused_port_says_connection_refused(runner: CheckRunner, closed_port: int) -> None:
    result = await run(runner, websocket=f"ws://127.0.0.1:{closed_port}/")

    assert (result.ok, result.reason) == (False, f"127.0.0.1:{closed_port}: connection refused")


async def test_a_header_from_the_environment_is_sent_and_never_shown(base: str) -> None:
    secret = "s3cret-token-4c1d"
    stack = parse_stack(
        "vigil.yaml",
        f"""
services:
  feed:
    checks:
      socket:
        websocket: {base}/token
        headers: {{Authorization: "Bearer ${{WS_TOKEN}}"}}
        send: ping
        expect: {{reply_matches: "^welcome"}}
""",
        environ={"WS_TOKEN": secret},
    )

    [result] = await run_once(stack)

    assert (result.ok, result.reason) == (
        False,
        'wrong reply: "denied for Bearer ***" does not match /^welcome/',
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"websocket": "http://127.0.0.1/ws"}, "expected a ws:// or wss:// URL with a host"),
        ({"websocket": "wss://user:hunter2@/ws"}, "wss://user:***@/ws"),
        ({"websocket": "ws://x/", "expect": {"reply_matches": "("}}, "reply_matches is not a valid regular"),
        ({"websocket": "ws://x/", "expect": {"json": ["depth < many"]}}, "right side must be a number"),
        ({"websocket": "ws://x/", "expect": {"reply": "ok"}}, "Extra inputs are not permitted"),
    ],
)
def test_a_check_that_cannot_work_is_rejected_when_the_stack_file_is_read(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        WebsocketCheck.model_validate(fields)

    assert message in str(raised.value)
    assert "hunter2" not in "".join(str(e["msg"]) for e in raised.value.errors())


async def test_the_connection_is_closed_politely_after_the_check(
    runner: CheckRunner, base: str, closes: list[int | None]
) -> None:
    result = await run(runner, websocket=f"{base}/echo", send="ping", expect={"reply_matches": "ping"})

    for _ in range(100):  # the server's handler notes the close once its loop ends
        if closes:
            break
        await asyncio.sleep(0.01)
    assert result.ok
    assert closes == [WSCloseCode.OK]
