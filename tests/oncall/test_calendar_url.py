"""A schedule whose shifts come from a calendar URL, served by a real local HTTP server whose
answer the test changes: read on refresh, kept when the server fails or sends no calendar,
cut off when it sends too much."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port
from tests.oncall.stacks import OPSGENIE_EXPORT, Server, serving
from vigil.config.load import parse_stack
from vigil.oncall import ical
from vigil.oncall.service import OnCall


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


def oncall_of(server: Server) -> OnCall:
    url = f"http://127.0.0.1:{server.server_address[1]}/rota.ics"
    text = (
        "people:\n  bob: {notify: ['mailto://bob@example.org']}\n  alice: {notify: ['mailto://alice@example.com']}\n"
        f"oncall:\n  schedules:\n    imported: {{timezone: Europe/London, ical: '{url}'}}\n"
    )
    return OnCall(parse_stack("vigil.yaml", text, {}))


MARCH_5 = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)


async def test_the_calendar_is_read_on_refresh_and_kept_when_the_server_then_fails(server: Server) -> None:
    oncall = oncall_of(server)
    assert oncall.has_calendar_urls
    assert oncall.who("imported", MARCH_5) == []  # not read yet: nobody, and no waiting
    async with httpx.AsyncClient() as http:
        await oncall.refresh(http)
        assert oncall.who("imported", MARCH_5) == ["bob"]
        server.status = 500
        await oncall.refresh(http)
        assert oncall.who("imported", MARCH_5) == ["bob"]
        server.status, server.body = 200, b"<html>maintenance</html>"
        await oncall.refresh(http)
        assert oncall.who("imported", MARCH_5) == ["bob"]
        server.body = OPSGENIE_EXPORT.replace("BOB@example.org", "alice@example.com").encode()
        await oncall.refresh(http)
        assert oncall.who("imported", MARCH_5) == ["alice"]
    assert server.requests == 4


async def test_a_calendar_url_sending_too_much_is_cut_off(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.body = b"BEGIN:VCALENDAR\r\n" + b"X" * (ical.MAX_BYTES + 1)
    oncall = oncall_of(server)
    async with httpx.AsyncClient() as http:
        await oncall.refresh(http)
    assert oncall.who("imported", MARCH_5) == []
    assert (
        "on-call calendar not read: the calendar of imported: more than the 5,000,000 bytes a calendar may have"
        in caplog.text
    )


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (404, b"gone", "the calendar of imported: the server answered 404 Not Found"),
        (200, b"", "the calendar of imported is not an iCalendar file"),
    ],
)
async def test_a_calendar_url_failing_is_logged_without_its_url(
    server: Server, caplog: pytest.LogCaptureFixture, status: int, body: bytes, said: str
) -> None:
    # A private calendar's URL is its password (Google's "secret address"): logs name the schedule.
    server.status, server.body = status, body
    async with httpx.AsyncClient() as http:
        await oncall_of(server).refresh(http)
    assert f"on-call calendar not read: {said}" in caplog.text
    assert "rota.ics" not in caplog.text and "127.0.0.1" not in caplog.text


async def test_a_calendar_url_nobody_listens_at_is_logged_without_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/rota.ics"
    oncall = OnCall(
        parse_stack("vigil.yaml", f"oncall:\n  schedules:\n    imported: {{ical: '{url}'}}\n", {})
    )
    async with httpx.AsyncClient() as http:
        await oncall.refresh(http)
    assert (
        "on-call calendar not read: the calendar of imported: cannot be fetched: ConnectError" in caplog.text
    )
    assert "rota.ics" not in caplog.text
