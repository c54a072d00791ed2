"""``/ping/<key>``: where the jobs of heartbeat checks report, with no sign-in (the key is the
credential), the URLs healthchecks.io's clients call.

GET, POST or HEAD on ``/ping/<key>`` (success), ``/ping/<key>/start``, ``/ping/<key>/fail``,
``/ping/<key>/log`` or ``/ping/<key>/<exit status>`` (0 success, 1-255 failure). A POST's body
(a job's log) is kept up to ``BODY_KEPT``, redacted, and shown with the check's failure. The
answer is ``OK`` as plain text, so ``curl -fsS`` in a crontab prints nothing but errors.

Served in front of the application (an ASGI layer, not a route): at thousands of pings a second
the API's sign-in, redaction of answers (this one is a fixed text) and error pages would be most
of the cost of a ping, which is a key lookup and a queue append. Refusals are JSON
``{"error": …}``: 404 for a key no check has (nothing is stored), 400 a suffix that is none of
the above, 405 another method, 413 a body over ``server.max_body``, 429 over the key's rate,
with ``Retry-After``.

``vigil up`` answers most pings before they reach this layer, in its HTTP parser's callbacks
(``server.ping_wire``); both take their routes and answers from ``PingEndpoint``, and this layer
serves what the fast path passes on (a ping pipelined behind another request, the test client).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil.engine.heartbeats import HeartbeatWatch, PingOutcome
from vigil.probes.heartbeat import KEY_PATTERN, Signal

PREFIX = "/ping/"
BODY_KEPT = 10 * 1024
METHODS = ("GET", "POST", "HEAD")
_SIGNALS = {"start": Signal.START, "fail": Signal.FAIL, "log": Signal.LOG}
UNKNOWN = "no heartbeat check has this key; `vigil heartbeat url SERVICE.CHECK` prints a check's ping URL"
LIMITED = "too many pings for this check; at most {rate:g} a second are taken"
JSON = b"application/json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    content_type: bytes = JSON


@dataclass(frozen=True)
class Route:
    """What a ping's URL asks for."""

    key: str
    signal: Signal
    exit_status: int | None


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


TAKEN = Answer(200, b"OK", content_type=b"text/plain; charset=utf-8")
NOT_FOUND = Answer(404, _error(UNKNOWN))


class Pings:
    """Routes and answers of ``/ping/…``, whichever layer reads the request."""

    def __init__(self, watch: HeartbeatWatch, max_body: int) -> None:
        self.watch = watch
        self.max_body = max_body
        self.limited = Answer(429, _error(LIMITED.format(rate=watch.rate)), ((b"retry-after", b"1"),))
        self.too_big = Answer(413, _error(f"a ping's body may be at most {max_body} bytes"))

    def route(self, method: str, path: str) -> Route | Answer:
        """``path`` (under ``PREFIX``) as a ping, or the refusal of a method or suffix."""
        if method not in METHODS:
            refused = _error(f"{method} is not how to ping; use GET or POST")
            return Answer(405, refused, ((b"allow", b"GET, POST, HEAD"),))
        key, _, suffix = path[len(PREFIX) :].partition("/")
        if not suffix:
            return Route(key, Signal.SUCCESS, None)
        if suffix in _SIGNALS:
            return Route(key, _SIGNALS[suffix], None)
        if suffix.isdigit() and len(suffix) <= 3 and int(suffix) <= 255:
            status = int(suffix)
            return Route(key, Signal.FAIL if status else Signal.SUCCESS, status)
        message = f"/ping/<key>/{suffix[:40]} is not a ping; end the URL with start, fail, log or an exit status 0-255"
        return Answer(400, _error(message))

    def take(self, route: Route, body: bytes, remote: str | None) -> Answer:
        """The watch's answer to a ping whose body (its first ``BODY_KEPT`` bytes) was read."""
        if not KEY_PATTERN.fullmatch(route.key):
            return NOT_FOUND
        outcome = self.watch.ping(
            route.key, route.signal, exit_status=route.exit_status, body=body, remote=remote
        )
        if outcome is PingOutcome.UNKNOWN:
            return NOT_FOUND
        return self.limited if outcome is PingOutcome.LIMITED else TAKEN


class PingEndpoint:
    def __init__(self, app: ASGIApp, watch: HeartbeatWatch, max_body: int) -> None:
        self.app = app
        self.pings = Pings(watch, max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        route = self.pings.route(scope["method"], path)
        if isinstance(route, Answer):
            await _answer(send, route)
            return
        body, too_big = await _read_body(receive, self.pings.max_body)
        if too_big:
            await _answer(send, self.pings.too_big)
            return
        client = scope.get("client")
        answer = self.pings.take(route, body, client[0] if client else None)
        await _answer(send, answer, head=scope["method"] == "HEAD")


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The first ``BODY_KEPT`` bytes of the body, and whether it was longer than ``limit``."""
    kept = bytearray()
    seen = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return b"", True
        if len(kept) < BODY_KEPT:
            kept += chunk[: BODY_KEPT - len(kept)]
        more = message.get("more_body", False)
    return bytes(kept), False


async def _answer(send: Send, answer: Answer, *, head: bool = False) -> None:
    raw = [(b"content-type", answer.content_type), (b"content-length", str(len(answer.body)).encode())]
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": raw + list(answer.headers)}
    )
    await send({"type": "http.response.body", "body": b"" if head else answer.body})


def install(app: FastAPI, watch: HeartbeatWatch, max_body: int) -> None:
    """Put the endpoint in front of everything else the app does (added last, it is outermost)."""
    app.add_middleware(PingEndpoint, watch=watch, max_body=max_body)
