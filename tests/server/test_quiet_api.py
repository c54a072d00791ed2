"""Silences and maintenance windows over HTTP, on a real store: 201/404/409/422, 401/403, and
the overview's banner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import sqlite_store_url
from vigil.alerting.quiet import QuietRules
from vigil.config.load import parse_stack
from vigil.config.maintenance import MaintenanceSettings
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

STACK = """
server: {public_read: true}  # reading is not what this file tests (test_private.py is)
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
"""
WINDOWS = MaintenanceSettings.model_validate(
    {"windows": [{"name": "weekly", "cron": "0 2 * * SUN", "duration": "2h", "matchers": {"service": "api"}}]}
)
SUNDAY_3AM = datetime(2026, 1, 4, 3, 0, tzinfo=UTC)
SILENCE = {
    "matchers": ["service=api", {"name": "severity", "value": "P[12]", "op": "=~"}],
    "duration": "2h",
    "comment": "deploy",
}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    clock = FakeClock(SUNDAY_3AM)
    engine = await open_database(await sqlite_store_url(tmp_path / "v.db"))
    runtime = Runtime(parse_stack("vigil.yaml", STACK, {}), engine, clock=clock)
    runtime.quiet = QuietRules(engine, WINDOWS, clock)  # type: ignore[attr-defined]  # this test's schedule
    app = create_app(runtime, manage_runtime=False)
    tokens = {role: await create_token(engine, clock, f"{role}-user", role) for role in Role}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as client:
        yield {"client": client, "tokens": tokens, "clock": clock}
    await engine.dispose()


def auth(setup: dict[str, Any], role: Role = Role.RESPONDER) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['tokens'][role]}"}


async def test_a_responder_creates_a_silence_and_gets_201_with_its_id(setup: dict[str, Any]) -> None:
    client = setup["client"]
    response = await client.post("/api/v1/silences", json=SILENCE, headers=auth(setup))
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["id"] == 1
    assert made["matchers"] == [
        {"name": "service", "op": "=", "value": "api"},
        {"name": "severity", "op": "=~", "value": "P[12]"},
    ]
    assert (made["state"], made["created_by"], made["comment"]) == ("active", "responder-user", "deploy")
    assert (made["starts_at"], made["ends_at"]) == ("2026-01-04T03:00:00+00:00", "2026-01-04T05:00:00+00:00")
    assert (await client.get("/api/v1/silences/1")).json() == made


async def test_a_silence_may_give_its_start_and_end_instead_of_a_duration(setup: dict[str, Any]) -> None:
    body = {
        **SILENCE,
        "duration": None,
        "starts_at": "2026-01-05T10:00:00Z",
        "ends_at": "2026-01-05T11:00:00Z",
    }
    made = (await setup["client"].post("/api/v1/silences", json=body, headers=auth(setup))).json()
    assert (made["state"], made["ends_at"]) == ("pending", "2026-01-05T11:00:00+00:00")


async def test_the_list_hides_expired_silences_unless_all_is_asked_for(setup: dict[str, Any]) -> None:
    client = setup["client"]
    first = (await client.post("/api/v1/silences", json=SILENCE, headers=auth(setup))).json()
    second = (await client.post("/api/v1/silences", json=SILENCE, headers=auth(setup))).json()
    expired = await client.delete(f"/api/v1/silences/{first['id']}", headers=auth(setup))
    assert expired.status_code == 200
    assert expired.json()["state"] == "expired"
    assert [s["id"] for s in (await client.get("/api/v1/silences")).json()] == [second["id"]]
    listed = (await client.get("/api/v1/silences", params={"all": "true"})).json()
    assert [s["id"] for s in listed] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/api/v1/silences/42"), ("get", "/api/v1/silences/42")]
)
async def test_an_unknown_silence_is_a_404(setup: dict[str, Any], method: str, path: str) -> None:
    response = await setup["client"].request(method.upper(), path, headers=auth(setup))
    assert response.status_code == 404
    assert response.json() == {"error": "no silence 42"}


async def test_expiring_twice_is_a_409(setup: dict[str, Any]) -> None:
    client = setup["client"]
    await client.post("/api/v1/silences", json=SILENCE, headers=auth(setup))
    await client.delete("/api/v1/silences/1", headers=auth(setup))
    assert (await client.delete("/api/v1/silences/1", headers=auth(setup))).status_code == 409


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**SILENCE, "matchers": ["service"]}, "is not a matcher"),
        ({**SILENCE, "matchers": ["severity=~P[12"]}, "not a regular expression"),
        ({**SILENCE, "matchers": [{"name": "service", "value": "api", "op": "=="}]}, "op"),
        ({**SILENCE, "matchers": []}, "matchers"),
        ({**SILENCE, "matchers": ["team!=ops"]}, "would silence everything"),
        ({**SILENCE, "duration": "soon"}, "duration"),
        ({**SILENCE, "duration": None}, "either an end time or a duration"),
        ({k: v for k, v in SILENCE.items() if k != "comment"}, "comment"),
        ({**SILENCE, "ends_at": "2026-01-05T11:00:00"}, "timezone"),
        ({**SILENCE, "silence": "everything"}, "extra"),
    ],
)
async def test_a_bad_silence_is_a_422_that_says_what_is_wrong(
    setup: dict[str, Any], body: dict[str, Any], says: str
) -> None:
    response = await setup["client"].post("/api/v1/silences", json=body, headers=auth(setup))
    assert response.status_code == 422
    assert says in response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/silences", SILENCE),
        ("DELETE", "/api/v1/silences/1", None),
        ("POST", "/api/v1/maintenance", {"name": "deploy", "duration": "1h"}),
        ("DELETE", "/api/v1/maintenance/deploy", None),
    ],
)
async def test_changes_need_a_token_401_and_a_responder_403(
    setup: dict[str, Any], method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = setup["client"]
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    viewer = await client.request(method, path, json=body, headers=auth(setup, Role.VIEWER))
    assert viewer.status_code == 403
    assert "responder" in viewer.json()["error"]


async def test_maintenance_lists_the_active_schedule_and_windows_started_by_hand(
    setup: dict[str, Any],
) -> None:
    client = setup["client"]
    started = await client.post(
        "/api/v1/maintenance",
        json={"name": "db-upgrade", "duration": "30m", "matchers": ["service=db"], "comment": "v16"},
        headers=auth(setup),
    )
    assert started.status_code == 201, started.text
    assert (started.json()["source"], started.json()["started_by"]) == ("manual", "responder-user")
    windows = (await client.get("/api/v1/maintenance")).json()
    assert [(w["name"], w["active"], w["ends_at"]) for w in windows] == [
        ("weekly", True, "2026-01-04T04:00:00+00:00"),
        ("db-upgrade", True, "2026-01-04T03:30:00+00:00"),
    ]
    assert (
        await client.post(
            "/api/v1/maintenance", json={"name": "db-upgrade", "duration": "1h"}, headers=auth(setup)
        )
    ).status_code == 409
    stopped = await client.delete("/api/v1/maintenance/db-upgrade", headers=auth(setup))
    assert (stopped.status_code, stopped.json()["active"]) == (200, False)
    assert (await client.delete("/api/v1/maintenance/db-upgrade", headers=auth(setup))).status_code == 404


async def test_the_overview_shows_the_maintenance_banner_and_the_silence_count(setup: dict[str, Any]) -> None:
    client = setup["client"]
    page = (await client.get("/")).text
    assert 'hx-get="/fragments/quiet"' in page
    await client.post("/api/v1/silences", json=SILENCE, headers=auth(setup))
    banner = (await client.get("/fragments/quiet")).text
    assert banner.startswith('<section id="quiet"')
    assert "Maintenance: <b>weekly</b> until 04:00 UTC (service=api) — matching alerts do not page" in banner
    assert "<b>1</b> active silence:" in banner


async def test_no_banner_shows_outside_maintenance(setup: dict[str, Any]) -> None:
    await setup["clock"].advance(3600)
    banner = (await setup["client"].get("/fragments/quiet")).text
    assert "Maintenance" not in banner
    assert "silence" not in banner
