"""What the on-call tests share: the issue's own stack file, a calendar as Opsgenie exports
one, and a real HTTP server that serves it (its answer set by the test)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

ISSUE_EXAMPLE = textwrap.dedent(
    """
    people:
      alice: {notify: ["mailto://alice@example.com"]}
      bob: {notify: ["mailto://bob@example.com"]}
      erin: {notify: ["mailto://erin@example.com"]}
    oncall:
      schedules:
        primary:
          timezone: Europe/London
          rotation: {every: 1w, handoff: "mon 09:00", start: 2026-01-05}
          members: [alice, bob]
          overrides:
            - {who: erin, from: "2026-02-10T00:00:00Z", to: "2026-02-11T00:00:00Z"}
      escalation:
        default:
          steps:
            - {notify: ["schedule:primary"], wait: 15m}
            - {notify: ["person:erin"], wait: 15m}
          repeat: 1
    """
)


OPSGENIE_EXPORT = textwrap.dedent(
    """\
    BEGIN:VCALENDAR
    VERSION:2.0
    PRODID:-//Opsgenie//Schedule//EN
    BEGIN:VEVENT
    UID:1@opsgenie
    DTSTART;TZID=Europe/London:20260302T090000
    DTEND;TZID=Europe/London:20260309T090000
    SUMMARY:Primary rotation
    ATTENDEE;CN=Someone:mailto:BOB@example.org
    END:VEVENT
    BEGIN:VEVENT
    UID:2@opsgenie
    DTSTART:20260309T090000Z
    DTEND:20260316T090000Z
    SUMMARY:alice on call
    END:VEVENT
    BEGIN:VEVENT
    UID:3@opsgenie
    DTSTART;VALUE=DATE:20260316
    SUMMARY:Alice Smith and erin@example.com
    END:VEVENT
    BEGIN:VEVENT
    UID:4@opsgenie
    DTSTART:20260401T080000Z
    DURATION:PT12H
    RRULE:FREQ=DAILY;COUNT=3
    SUMMARY:[L1] erin
    END:VEVENT
    BEGIN:VEVENT
    UID:5@opsgenie
    DTSTART:20260401T080000Z
    DTEND:20260401T090000Z
    SUMMARY:Team lunch
    END:VEVENT
    END:VCALENDAR
    """
).replace("\n", "\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    body = OPSGENIE_EXPORT.encode()
    requests = 0


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        self.server.requests += 1
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving() -> Iterator[Server]:
    running = Server(("127.0.0.1", 0), Handler)
    Thread(target=running.serve_forever, daemon=True).start()
    try:
        yield running
    finally:
        running.shutdown()
