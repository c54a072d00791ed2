"""On call over HTTP, on a real store and real tokens: who now and next, the calendar feed a
calendar app fetches with ``?token=`` (a viewer's only), and the overview's "On call" section."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from tests.oncall.stacks import ISSUE_EXAMPLE, serving
from tests.server.conftest import served
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

SECRET_ADDRESS = "mailto://erin@hidden.example.net"


async def serve(tmp_path: Path, text: str) -> AsyncIterator[dict[str, Any]]:
    clock = FakeClock(datetime(2026, 2, 10, 12, 0, tzinfo=UTC))
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    stack = parse_stack("vigil.yaml", text, {"ERIN_URL": SECRET_ADDRESS})
    runtime = Runtime(stack, engine, clock=clock)
    tokens = {role: await create_token(engine, clock, f"{role}-user", role) for role in Role}
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as client:
        yield {"client": client, "tokens": tokens}
    await engine.dispose()


PRIVATE = ISSUE_EXAMPLE.replace(
    'erin: {notify: ["mailto://erin@example.com"]}', 'erin: {notify: ["$' + '{ERIN_URL}"]}'
)


@pytest.fixture
async def private(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for setup in serve(tmp_path, PRIVATE):
        yield setup


@pytest.fixture
async def public(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for setup in serve(tmp_path, "server: {public_read: true}\n" + ISSUE_EXAMPLE):
        yield setup


def bearer(setup: dict[str, Any], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['tokens'][role]}"}


async def test_who_is_on_call_now_and_next_per_schedule(private: dict[str, Any]) -> None:
    answer = await private["client"].get("/api/v1/oncall", headers=bearer(private, Role.VIEWER))
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "schedule": "primary",
            "timezone": "Europe/London",
            "at": "2026-02-10T12:00:00Z",
            "on_call": [{"name": "erin", "display_name": "erin"}],
            "until": "2026-02-11T00:00:00Z",
            "next": {"start": "2026-02-11T00:00:00Z", "end": "2026-02-16T09:00:00Z", "people": ["bob"]},
        }
    ]


@pytest.mark.parametrize(
    ("at", "status", "who"),
    [
        ("2026-02-09T08:59:00Z", 200, ["alice"]),
        ("2026-02-09T09:00:00", 200, ["bob"]),  # no offset: the schedule's zone (GMT in February)
        ("yesterday", 422, None),
        ("9999-01-01T00:00:00Z", 422, None),
    ],
)
async def test_who_at_a_given_time(
    private: dict[str, Any], at: str, status: int, who: list[str] | None
) -> None:
    answer = await private["client"].get(
        "/api/v1/oncall", params={"at": at}, headers=bearer(private, Role.VIEWER)
    )
    assert answer.status_code == status, answer.text
    if who is None:
        assert set(answer.json()) == {"error"}
    else:
        assert [p["name"] for p in answer.json()[0]["on_call"]] == who


async def test_reading_who_is_on_call_needs_a_token_unless_reads_are_public(
    private: dict[str, Any], public: dict[str, Any]
) -> None:
    assert (await private["client"].get("/api/v1/oncall")).status_code == 401
    assert (await public["client"].get("/api/v1/oncall")).status_code == 200


async def test_a_calendar_app_fetches_the_feed_with_a_viewer_token_in_the_url(
    private: dict[str, Any],
) -> None:
    answer = await private["client"].get(
        "/api/v1/oncall/primary.ics", params={"token": private["tokens"][Role.VIEWER]}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    events = list(icalendar.Calendar.from_ical(answer.content).walk("VEVENT"))
    shifts = [(e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"])) for e in events]
    assert (
        datetime(2026, 2, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 2, 11, 0, 0, tzinfo=UTC),
        "On call (primary): erin",
    ) in shifts
    assert shifts[-1][1] == datetime(2026, 5, 5, 12, 0, tzinfo=UTC)  # twelve weeks ahead
    # erin's address came from the environment: masked like every other secret the server shows.
    assert b"hidden.example.net" not in answer.content


@pytest.mark.parametrize(
    ("role", "status", "says"),
    [
        (Role.RESPONDER, 403, "takes only a viewer token"),
        (Role.ADMIN, 403, "takes only a viewer token"),
        (None, 401, "unknown or revoked token"),
    ],
)
async def test_a_calendar_link_refuses_tokens_that_could_change_things(
    private: dict[str, Any], role: Role | None, status: int, says: str
) -> None:
    token = private["tokens"][role] if role else "vgl_not-a-token"
    answer = await private["client"].get("/api/v1/oncall/primary.ics", params={"token": token})
    assert answer.status_code == status
    assert says in answer.json()["error"]


async def test_the_feed_takes_a_bearer_header_too_and_names_unknown_schedules(
    private: dict[str, Any],
) -> None:
    client = private["client"]
    assert (await client.get("/api/v1/oncall/primary.ics")).status_code == 401
    ok = await client.get("/api/v1/oncall/primary.ics", headers=bearer(private, Role.RESPONDER))
    assert ok.status_code == 200
    missing = await client.get("/api/v1/oncall/nope.ics", headers=bearer(private, Role.VIEWER))
    assert missing.status_code == 404
    assert missing.json() == {"error": "no schedule 'nope'; the schedules are: primary"}


async def test_with_public_reads_the_feed_needs_no_token(public: dict[str, Any]) -> None:
    assert (await public["client"].get("/api/v1/oncall/primary.ics")).status_code == 200


async def test_the_overview_shows_who_is_on_call_now_and_next(public: dict[str, Any]) -> None:
    client = public["client"]
    page = await client.get("/")
    assert 'id="oncall"' in page.text
    section = (await client.get("/fragments/oncall")).text
    assert "<b>erin</b>" in section
    assert "Wed 11 Feb 00:00 GMT" in section
    assert "<td>bob</td>" in section


async def test_a_stack_file_without_schedules_shows_no_on_call_section(tmp_path: Path) -> None:
    async for setup in serve(tmp_path, "server: {public_read: true}\n"):
        section = (await setup["client"].get("/fragments/oncall")).text
        assert "hidden" in section
        assert "hx-get" not in section
        assert (await setup["client"].get("/api/v1/oncall")).json() == []


async def test_vigil_up_reads_a_calendar_url_when_it_starts(tmp_path: Path) -> None:
    with serving() as calendar:
        text = (
            "server: {public_read: true}\n"
            "people:\n  bob: {notify: ['mailto://bob@example.org']}\n"
            f"oncall:\n  schedules:\n    imported: {{ical: 'http://127.0.0.1:{calendar.server_address[1]}/r.ics'}}\n"
        )
        async with served(tmp_path, text, start=True) as (client, _runtime, _clock):
            for _ in range(200):
                answer = (await client.get("/api/v1/oncall", params={"at": "2026-03-05T12:00:00Z"})).json()
                if answer[0]["on_call"]:
                    break
                await asyncio.sleep(0.02)
            assert answer[0]["on_call"] == [{"name": "bob", "display_name": "bob"}]
        assert calendar.requests == 1
