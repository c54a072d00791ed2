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
"""

from __future__ import annotations

import json

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


class PingEndpoint:
    def __init__(self, app: ASGIApp, watch: HeartbeatWatch, max_body: int) -> None:
        self.app = app
        self.watch = watch
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in METHODS:
            await _answer(
                send,
                405,
                _error(f"{method} is not how to ping; use GET or POST"),
                [(b"allow", b"GET, POST, HEAD")],
            )
            return
        key, _, suffix = path[len(PREFIX) :].partition("/")
        signal, exit_status = Signal.SUCCESS, None
        if suffix in _SIGNALS:
            signal = _SIGNALS[suffix]
        elif suffix.isdigit() and len(suffix) <= 3 and int(suffix) <= 255:
            exit_status = int(suffix)
            signal = Signal.FAIL if exit_status else Signal.SUCCESS
        elif suffix:
            message = f"/ping/<key>/{suffix[:40]} is not a ping; end the URL with start, fail, log or an exit status 0-255"
            await _answer(send, 400, _error(message))
            return
        body, too_big = await _read_body(receive, self.max_body)
        if too_big:
            await _answer(send, 413, _error(f"a ping's body may be at most {self.max_body} bytes"))
            return
        outcome = PingOutcome.UNKNOWN
        if KEY_PATTERN.fullmatch(key):
            client = scope.get("client")
            remote = client[0] if client else None
            outcome = await self.watch.ping(key, signal, exit_status=exit_status, body=body, remote=remote)
        if outcome is PingOutcome.UNKNOWN:
            await _answer(send, 404, _error(UNKNOWN))
        elif outcome is PingOutcome.LIMITED:
            await _answer(send, 429, _error(LIMITED.format(rate=self.watch.rate)), [(b"retry-after", b"1")])
        else:
            await _answer(send, 200, b"OK", content_type=b"text/plain; charset=utf-8", head=method == "HEAD")


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


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_type: bytes = b"application/json",
    head: bool = False,
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


def install(app: FastAPI, watch: HeartbeatWatch, max_body: int) -> None:
    """Put the endpoint in front of everything else the app does (added last, it is outermost)."""
    app.add_middleware(PingEndpoint, watch=watch, max_body=max_body)
