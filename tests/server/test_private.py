"""Private by default: reading the API and the dashboard needs a viewer, unless the stack file
opens reading to a trusted network; health stays open, /metrics can ask for a token, and a
one-time login link signs a browser in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import served
from vigil.engine.clock import FakeClock
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_login_link, create_token

STACK = """
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
"""
READS = [
    "/api/v1/services",
    "/api/v1/checks",
    "/api/v1/checks/api.health",
    "/api/v1/checks/api.health/results",
    "/api/v1/checks/api.health/history",
    "/api/v1/graphs/checks/api.health",
    "/api/v1/incidents",
    "/api/v1/silences",
    "/api/v1/maintenance",
]
PAGES = [
    "/",
    "/services",
    "/services/api",
    "/checks/api.health",
    "/rules",
    "/backups",
    "/fragments/incidents",
    "/fragments/services",
    "/fragments/quiet",
]

Served = tuple[httpx.AsyncClient, Runtime, FakeClock]


@pytest.fixture
async def private(tmp_path: Path) -> AsyncIterator[Served]:
    async with served(tmp_path, STACK) as setup:
        yield setup


@pytest.mark.parametrize("path", READS)
async def test_the_api_answers_401_to_a_read_without_a_token_and_200_to_a_viewer(
    private: Served, path: str
) -> None:
    client, runtime, clock = private
    refused = await client.get(path)
    assert refused.status_code == 401
    assert "bearer token" in refused.json()["error"]
    assert "api.health" not in refused.text
    viewer = await create_token(runtime.engine, clock, "vera", Role.VIEWER)
    assert (await client.get(path, headers={"Authorization": f"Bearer {viewer}"})).status_code == 200


@pytest.mark.parametrize("path", PAGES)
async def test_a_dashboard_page_asks_to_sign_in_first_and_shows_nothing(private: Served, path: str) -> None:
    client, _, _ = private
    plain = await client.get(path)
    assert (plain.status_code, plain.headers["location"]) == (303, "/login?reason=private")
    htmx = await client.get(path, headers={"HX-Request": "true"})
    assert (htmx.status_code, htmx.headers["HX-Redirect"]) == (401, "/login?reason=private")
    assert "api.health" not in plain.text + htmx.text
    assert "This dashboard is private" in (await client.get("/login?reason=private")).text


async def test_a_signed_in_viewer_reads_every_page(private: Served) -> None:
    client, runtime, clock = private
    viewer = await create_token(runtime.engine, clock, "vera", Role.VIEWER)
    client.cookies.set("vigil_token", viewer)
    for path in PAGES:
        assert (await client.get(path)).status_code == 200, path
    client.cookies.set("vigil_token", "vgl_revoked-or-made-up")
    assert (await client.get("/")).headers["location"] == "/login?reason=private"


async def test_public_read_opens_reading_but_not_changing(tmp_path: Path) -> None:
    async with served(tmp_path, "server: {public_read: true}\n" + STACK) as (client, _, _):
        for path in READS:
            assert (await client.get(path)).status_code == 200, path
        for path in PAGES:
            assert (await client.get(path)).status_code == 200, path
        change = await client.post("/api/v1/silences", json={"matchers": ["service=api"], "duration": "1h"})
        assert change.status_code == 401


async def test_health_stays_open_and_metrics_is_open_by_default(private: Served) -> None:
    client, _, _ = private
    for path in ("/healthz", "/livez", "/readyz"):
        assert (await client.get(path)).status_code != 401, path
    assert (await client.get("/metrics")).status_code == 200


async def test_metrics_asks_for_the_token_the_stack_file_sets(tmp_path: Path) -> None:
    stack = 'server: {metrics_token: "${SCRAPE_TOKEN}"}\n' + STACK
    async with served(tmp_path, stack, {"SCRAPE_TOKEN": "scrape-0123456789abcdef"}) as (client, _, _):
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-wrong-0123456789"})
        assert wrong.status_code == 401
        assert "server.metrics_token" in wrong.json()["error"]
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-0123456789abcdef"})
        assert right.status_code == 200
        assert "vigil_outbox_depth" in right.text
        assert (await client.get("/healthz")).status_code != 401


async def test_a_login_link_signs_a_browser_in_once(private: Served) -> None:
    client, runtime, clock = private
    code = await create_login_link(runtime.engine, clock, "demo", Role.RESPONDER)
    # The link is not an API token, so one left in a browser's history opens no API.
    assert (
        await client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {code}"})
    ).status_code == 401
    answer = await client.get(f"/login/link?code={code}")
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    assert (await client.get("/")).status_code == 200
    assert "Sign out" in (await client.get("/")).text
    # The cookie is a token of its own, not the code, and the code is spent.
    assert client.cookies["vigil_token"] != code
    client.cookies.clear()
    again = await client.get(f"/login/link?code={code}")
    assert again.status_code == 401
    assert "unknown, used or expired" in again.text


async def test_a_login_link_expires_after_an_hour(private: Served) -> None:
    client, runtime, clock = private
    code = await create_login_link(runtime.engine, clock, "demo", Role.RESPONDER)
    await clock.advance(3601)
    assert (await client.get(f"/login/link?code={code}")).status_code == 401
