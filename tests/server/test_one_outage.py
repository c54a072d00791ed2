"""One outage, one page, as a new user meets it: ``vigil up`` watches three health endpoints of
one backend (a real local HTTP server); stopping the backend opens one incident and sends one
page to a real local webhook receiver, and the incident's timeline names all three checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import free_port
from tests.server.conftest import Switch, wait_until

STACK = """
notify:
  channels:
    hook: {{webhook: "{hook}/hook"}}
  default: [hook]
services:
  api:
    checks:
      health: {{http: "{backend}/health", every: 1s, timeout: 1s, alert: {{after: 2, severity: P2}}}}
      live: {{http: "{backend}/live", every: 1s, timeout: 1s, alert: {{after: 2, severity: P1}}}}
      ready: {{http: "{backend}/ready", every: 1s, timeout: 1s, alert: {{after: 2, severity: P2}}}}
"""


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class Backend:
    """An HTTP backend on a fixed port that the test stops (connection refused) and starts again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Ok)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    server.start()
    yield server
    server.stop()


def test_stopping_one_backend_opens_one_incident_and_sends_one_page(
    backend: Backend, receiver: Switch, vigil_up: Any
) -> None:
    vigil = vigil_up(STACK.format(hook=receiver.url, backend=backend.url))
    vigil.start()
    wait_until(lambda: len(vigil.api("/checks")) == 3, 10, "the three checks to be listed")

    backend.stop()

    def timeline() -> str:
        incidents = vigil.api("/incidents")
        return (
            " | ".join(e["text"] for e in vigil.api(f"/incidents/{incidents[0]['id']}")["timeline"])
            if incidents
            else ""
        )

    wait_until(
        lambda: all(check in timeline() for check in ("api.health", "api.live", "api.ready")),
        30,
        "one incident naming all three checks",
    )
    wait_until(lambda: receiver.events() != [], 15, "the page")
    [incident] = vigil.api("/incidents")
    assert (incident["service"], incident["status"], incident["severity"]) == ("api", "triggered", "P1")
    assert receiver.events() == [("triggered", incident["id"])]

    backend.start()  # the backend is back: each check passes, the incident resolves, once
    wait_until(lambda: ("resolved", incident["id"]) in receiver.events(), 30, "the resolve notice")
    assert receiver.events() == [("triggered", incident["id"]), ("resolved", incident["id"])]
    [resolved] = vigil.api("/incidents")
    assert resolved["status"] == "resolved"
