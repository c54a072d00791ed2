"""``websocket``: the handshake succeeds, and a message sent is answered as expected in time.

With ``send``, the message goes out after the handshake and the first reply is judged; with
``expect`` alone, the first message the server sends on its own (a greeting) is. Without
either, the handshake is the whole check. The reason says where it stopped: ``handshake
status 403, expected 101``, ``no reply within 5s``, ``wrong reply: …``.

aiohttp's client rather than the ``websockets`` library: it is already the ``http`` probe's,
so both kinds share one TLS setup, one way of wording connection failures, and no new
dependency; it reports a refused handshake's status, which is all this check needs from it.

Values: ``connect_ms`` (TCP, TLS and the WebSocket handshake) and ``reply_ms`` (from sending,
or from the handshake when nothing is sent, to the first reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, field_validator

from vigil import __version__
from vigil.config.check import CheckBase, StrictModel
from vigil.config.durations import format_duration
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.describe import describe_error, step_budget
from vigil.probes.http import client_error, url_with_host
from vigil.probes.jsonpath import Condition, conditions_from, show

if TYPE_CHECKING:
    import aiohttp

REPLY_LIMIT = 1024 * 1024
# Waiting for the server's half of a polite goodbye; past it the connection is dropped.
CLOSE_SECONDS = 1.0
_SWITCHING = 101


def _readable(spec: dict[str, Any] | list[str]) -> dict[str, Any] | list[str]:
    conditions_from(spec)
    return spec


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as err:
        raise ValueError(f"reply_matches is not a valid regular expression: {err}") from None
    return text


class WebsocketExpect(StrictModel):
    reply_matches: Annotated[str, AfterValidator(_regex)] | None = Field(
        None, description="A regular expression the reply must match."
    )
    json_: Annotated[dict[str, Any] | list[str], AfterValidator(_readable)] | None = Field(
        None,
        alias="json",
        description="Fields of the reply read as JSON, as the http kind's expect.json: "
        "{status: ok} or conditions like 'queue.depth < 100'.",
    )

    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        return conditions_from(self.json_) if self.json_ is not None else ()

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.reply_matches) if self.reply_matches is not None else None


class WebsocketCheck(CheckBase):
    kind: ClassVar[str] = "websocket"

    websocket: str = Field(description="The ws:// or wss:// URL to connect to.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Handshake headers, e.g. Authorization."
    )
    send: str | dict[str, Any] | list[Any] | None = Field(
        None, description="A message to send after the handshake; a mapping or list is sent as JSON."
    )
    expect: WebsocketExpect | None = None
    tls_verify: bool = True

    @field_validator("websocket")
    @classmethod
    def _url_is_websocket(cls, value: str) -> str:
        return url_with_host(value, ("ws", "wss"), "a ws:// or wss:// URL")

    @property
    def message(self) -> str | None:
        if self.send is None or isinstance(self.send, str):
            return self.send
        return json.dumps(self.send)


class WebsocketProbe:
    """A session per observation: a WebSocket is never reused, so a pool would keep nothing."""

    async def observe(self, check: WebsocketCheck) -> Observation:
        import aiohttp

        loop = asyncio.get_running_loop()
        start_at = loop.time()
        deadline = start_at + step_budget(check.timeout)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None),  # the check's own deadline bounds every step
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": f"vigil/{__version__}"},
        ) as session:
            start = time.perf_counter()
            ws = await _connect(session, check, deadline)
            values = {"connect_ms": round((time.perf_counter() - start) * 1000.0, 3)}
            try:
                return await _converse(ws, check, deadline, values)
            finally:
                # Half of what is left after the probe's own deadline, so the goodbye cannot
                # take the engine's timeout and the verdict with it.
                until = min(loop.time() + CLOSE_SECONDS, (deadline + start_at + check.timeout) / 2)
                with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
                    async with asyncio.timeout_at(until):
                        await ws.close()

    async def close(self) -> None:
        return None


async def _connect(
    session: aiohttp.ClientSession, check: WebsocketCheck, deadline: float
) -> aiohttp.ClientWebSocketResponse:
    import aiohttp

    try:
        async with asyncio.timeout_at(deadline):
            return await session.ws_connect(
                check.websocket,
                headers=check.headers,
                ssl=check.tls_verify,
                max_msg_size=REPLY_LIMIT,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_SECONDS),
            )
    except TimeoutError:
        raise ProbeError(f"handshake not finished within {format_duration(check.timeout)}") from None
    except aiohttp.WSServerHandshakeError as err:
        if err.status != _SWITCHING:
            raise ProbeError(f"handshake status {err.status}, expected {_SWITCHING}") from None
        raise ProbeError(f"handshake refused: {err.message}") from None
    except aiohttp.ClientError as err:
        raise ProbeError(client_error(err)) from None


async def _converse(
    ws: aiohttp.ClientWebSocketResponse, check: WebsocketCheck, deadline: float, values: dict[str, float]
) -> Observation:
    import aiohttp

    message = check.message
    if message is None and check.expect is None:
        return Observation.passed(**values)
    start = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            if message is not None:
                await ws.send_str(message)
            reply = await ws.receive()
    except TimeoutError:
        return Observation.failed(f"no reply within {format_duration(check.timeout)}", **values)
    except (aiohttp.ClientError, OSError) as err:  # the connection broke while sending
        return Observation.failed(f"connection lost after the handshake: {describe_error(err)}", **values)
    if reply.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
        return Observation.failed(_no_reply(ws, reply), **values)
    values["reply_ms"] = round((time.perf_counter() - start) * 1000.0, 3)
    text = reply.data if isinstance(reply.data, str) else bytes(reply.data).decode("utf-8", errors="replace")
    problem = _reply_problem(check.expect, text)
    return Observation(problem is None, problem and f"wrong reply: {problem}", values)


def _no_reply(ws: aiohttp.ClientWebSocketResponse, reply: aiohttp.WSMessage) -> str:
    import aiohttp

    if reply.type == aiohttp.WSMsgType.ERROR:
        return f"reply unreadable: {describe_error(ws.exception() or reply.data)}"
    code = ws.close_code
    why = f": {reply.extra}" if isinstance(reply.extra, str) and reply.extra else ""
    return f"server closed the connection without replying (code {code}{why})"


def _reply_problem(expect: WebsocketExpect | None, text: str) -> str | None:
    if expect is None:
        return None
    if expect.pattern is not None and not expect.pattern.search(text):
        return f"{show(text)} does not match /{expect.pattern.pattern}/"
    if not expect.conditions:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        return f"not JSON ({err.msg} at column {err.colno}): {show(text)}"
    for condition in expect.conditions:
        problem = condition.judge(document)
        if problem:
            return problem
    return None


KIND = ProbeKind("websocket", WebsocketCheck, WebsocketProbe, loads=("aiohttp",))
