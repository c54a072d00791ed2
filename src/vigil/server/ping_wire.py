"""``/ping/…`` answered in the HTTP parser's callbacks, the rest of ``vigil up`` unchanged.

uvicorn's HTTP protocol turns each request into an ASGI scope, a task and a trip through the
middleware; for a ping (a key lookup and a queue append) that is nearly all of its cost, and it
held ``vigil up`` near 2,200 pings a second. ``PingWire`` is uvicorn's httptools protocol with
the ping requests taken out: when the parser has a ping's headers and nothing else is in flight
on the connection, the ping is routed and taken (``ping_routes.Pings``, the same code the ASGI
layer uses) as its message completes, and the answer, precomputed but for the date, joins the
others from the same read in one write. Any other request, and a ping pipelined behind one,
goes through uvicorn as before, so the answers keep their order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from vigil.server.ping_routes import BODY_KEPT, PREFIX, Answer, Pings, Route

_PREFIX = PREFIX.encode()
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class _Reading:
    """The ping whose message the parser is reading; ``answered`` once its answer is queued."""

    route: Route | None
    head: bool
    keep_alive: bool
    body: bytearray = field(default_factory=bytearray)
    seen: int = 0
    answered: bool = False


class _Wording:
    """Answers as bytes on the wire, kept while the server's default headers (the date, which
    uvicorn renews each second) stay the same list."""

    def __init__(self) -> None:
        self._defaults: object = None
        self._made: dict[tuple[int, bool, bool], bytes] = {}

    def say(
        self, answer: Answer, defaults: list[tuple[bytes, bytes]], *, head: bool, keep_alive: bool
    ) -> bytes:
        if defaults is not self._defaults:
            self._defaults, self._made = defaults, {}
        key = (id(answer), head, keep_alive)
        said = self._made.get(key)
        if said is None:
            said = _render(answer, defaults, head=head, keep_alive=keep_alive)
            if answer.status != 400:  # a 400 names the URL's suffix: one of many, not kept
                self._made[key] = said
        return said


def _render(answer: Answer, defaults: list[tuple[bytes, bytes]], *, head: bool, keep_alive: bool) -> bytes:
    lines = [STATUS_LINE[answer.status]]
    headers = [*defaults, (b"content-type", answer.content_type)]
    headers += [(b"content-length", str(len(answer.body)).encode()), *answer.headers]
    if not keep_alive:
        headers.append((b"connection", b"close"))
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join([*lines, b"\r\n", b"" if head else answer.body])


class PingWire(HttpToolsProtocol):
    pings: ClassVar[Pings]
    wording: ClassVar[_Wording]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.reading: _Reading | None = None
        self.out: list[bytes] = []
        self.closing = False
        self.last_read = 0.0
        self.lazy_timer = False  # the keep-alive timer is one a ping armed (see _flush)

    def _idle(self) -> bool:
        return (self.cycle is None or self.cycle.response_complete) and not self.pipeline

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        super().data_received(data)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lazy_timer = False
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def _unset_keepalive_if_required(self) -> None:
        if not self.lazy_timer:
            super()._unset_keepalive_if_required()

    def timeout_keep_alive_handler(self) -> None:
        """A ping's timer is not moved at each read (cancelling and arming one per read cost a
        few microseconds a ping); when it fires on a connection read from since, or whose
        answers are still being read, it is armed again."""
        left = self.last_read + self.timeout_keep_alive - self.loop.time()
        if self.lazy_timer and (self.flow.read_paused or self.transport.get_write_buffer_size()):
            left = self.timeout_keep_alive  # answers are still being read: not an idle client
        if self.lazy_timer and left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self.timeout_keep_alive_handler)
            return
        self.lazy_timer = False
        self.timeout_keep_alive_task = None
        if self._idle() and self.reading is None:
            super().timeout_keep_alive_handler()

    def send_400_response(self, msg: str) -> None:
        self._flush()  # what was answered before the malformed request goes first
        if not self.transport.is_closing():
            super().send_400_response(msg)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._idle():  # else uvicorn resumes reading when its request is answered
            self.flow.resume_reading()

    def on_message_begin(self) -> None:
        # The ASGI scope is made only for a request that is not a ping (_pass_on).
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.reading = None

    def _pass_on(self) -> None:
        """Hand the request whose headers were read to uvicorn, as if it had read it alone."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        if self.lazy_timer:  # an ASGI request keeps uvicorn's own timer
            self.lazy_timer = False
            self._unset_keepalive_if_required()
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers.extend(headers)
        super().on_headers_complete()

    def on_headers_complete(self) -> None:
        parser = self.parser
        if not self.url.startswith(_PREFIX) or not self._idle() or parser.should_upgrade():
            self._pass_on()
            return
        path = httptools.parse_url(self.url).path.decode("ascii")
        method = parser.get_method().decode("ascii")
        route = self.pings.route(method, unquote(path) if "%" in path else path)
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        if isinstance(route, Answer):
            self.reading = _Reading(None, method == "HEAD", keep_alive)
            self._answer(route)
            return
        self.reading = _Reading(route, method == "HEAD", keep_alive)
        if self.expect_100_continue:
            self.out.append(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        reading = self.reading
        if reading is None:
            super().on_body(body)
            return
        if reading.answered:
            return
        reading.seen += len(body)
        if reading.seen > self.pings.max_body:
            self._answer(self.pings.too_big)
        elif len(reading.body) < BODY_KEPT:
            reading.body += body[: BODY_KEPT - len(reading.body)]

    def on_message_complete(self) -> None:
        reading = self.reading
        if reading is None:
            super().on_message_complete()
            return
        self.reading = None
        self.server_state.total_requests += 1
        if reading.route is not None and not reading.answered and not self.closing:
            remote = self.client[0] if self.client else None
            self._answer(self.pings.take(reading.route, bytes(reading.body), remote), reading)

    def _answer(self, answer: Answer, reading: _Reading | None = None) -> None:
        reading = reading or self.reading
        if reading is None:  # for the type: every caller reads a ping
            return
        reading.answered = True
        if self.closing:  # a request after one that asked to close is not answered
            return
        defaults = self.server_state.default_headers
        self.out.append(self.wording.say(answer, defaults, head=reading.head, keep_alive=reading.keep_alive))
        self.closing = self.closing or not reading.keep_alive

    def _flush(self) -> None:
        """Write what the last read's pings were answered, in one write; then close the
        connection if one of them asked to, or wait for the next request."""
        if not self.out:
            return
        said, self.out = b"".join(self.out), []
        if self.transport.is_closing():
            return
        self.transport.write(said)
        if self.closing:
            self.transport.close()
            return
        if self.flow.write_paused:  # a client that sends pings and reads no answers is not read
            self.flow.pause_reading()
        elif self._idle() and self.reading is None and self.timeout_keep_alive_task is None:
            self.lazy_timer = True
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )


def wire_for(pings: Pings) -> type[PingWire]:
    """The protocol class for ``uvicorn.Config(http=…)``, taking its pings to ``pings``."""

    class Bound(PingWire):
        pass

    Bound.pings, Bound.wording = pings, _Wording()
    return Bound
