"""``/api/v1/db/…`` in process over a stack file whose check names the test's own database on the
local PostgreSQL: roles, a real idle sessions sweep, vacuum, and wrong input as 4xx JSON."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.maintenance.chores.conftest import idle_sessions, pg_url  # noqa: F401  (a fixture)
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database


@pytest.fixture
async def api(tmp_path: Path, pg_url: str) -> AsyncIterator[dict[str, Any]]:  # noqa: F811
    stack = {"services": {"shop": {"checks": {"db": {"postgres": pg_url}}}}}
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    runtime = Runtime(parse_stack("vigil.yaml", yaml.safe_dump(stack), {}), engine, clock=clock)
    tokens = {role: await create_token(engine, clock, f"{role}-user", role) for role in Role}
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as client:
        yield {"client": client, "tokens": tokens, "url": pg_url}
    await engine.dispose()


def auth(api: dict[str, Any], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {api['tokens'][role]}"}


async def test_a_responder_reads_sizes_and_long_queries(api: dict[str, Any]) -> None:
    client = api["client"]
    sizes = await client.get("/api/v1/db/sizes?db=shop&limit=1", headers=auth(api, Role.RESPONDER))
    assert sizes.status_code == 200, sizes.text
    assert [t["name"] for t in sizes.json()["tables"]] == ["orders"]
    long = await client.get("/api/v1/db/long-queries?longer_than=10m", headers=auth(api, Role.RESPONDER))
    assert (long.status_code, long.json()) == (200, [])


async def test_an_admin_ends_idle_sessions_after_listing_them(
    api: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = api["client"]
    caplog.set_level(logging.INFO, logger="vigil.audit")
    with idle_sessions(api["url"], 2) as others:
        await asyncio.sleep(1.2)
        listed = await client.get("/api/v1/db/idle-sessions?older_than=1s", headers=auth(api, Role.RESPONDER))
        assert sorted(s["id"] for s in listed.json()["sessions"]) == sorted(others)
        forbidden = await client.post(
            "/api/v1/db/kill-idle",
            json={"older_than": "1s", "confirm": True},
            headers=auth(api, Role.RESPONDER),
        )
        assert forbidden.status_code == 403 and "admin" in forbidden.json()["error"]
        ended = await client.post(
            "/api/v1/db/kill-idle", json={"older_than": "1s", "confirm": True}, headers=auth(api, Role.ADMIN)
        )
        assert ended.status_code == 200, ended.text
        assert sorted(ended.json()["killed"]) == sorted(others)
    # Only the confirmed sweep is audited, with the token's name; the listing and the refusal are not.
    [audited] = [r.getMessage() for r in caplog.records if r.name == "vigil.audit"]
    assert audited.startswith("admin-user ended 2 idle session(s) on shop.db (postgresql://")


async def test_an_admin_vacuums_and_a_responder_may_not(
    api: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = api["client"]
    caplog.set_level(logging.INFO, logger="vigil.audit")
    body = {"db": "shop.db", "tables": ["orders"], "timeout": "5m"}
    refused = await client.post("/api/v1/db/vacuum", json=body, headers=auth(api, Role.RESPONDER))
    assert refused.status_code == 403
    done = await client.post("/api/v1/db/vacuum", json=body, headers=auth(api, Role.ADMIN))
    assert (done.status_code, done.json()["tables"]) == (200, ["public.orders"])
    [audited] = [r.getMessage() for r in caplog.records if r.name == "vigil.audit"]
    assert audited.startswith("admin-user vacuumed and analyzed orders on shop.db (postgresql://")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/api/v1/db/sizes?db=postgresql://x@evil/db", None, 422, "the API takes no URL"),
        ("GET", "/api/v1/db/sizes?db=nope", None, 422, "db=nope names no database check"),
        ("GET", "/api/v1/db/sizes?limit=501", None, 422, "limit"),
        ("GET", "/api/v1/db/long-queries?longer_than=soon", None, 422, "'soon' is not a duration"),
        ("POST", "/api/v1/db/vacuum", {"tables": ["nosuch"]}, 422, "no table 'nosuch'"),
        ("POST", "/api/v1/db/vacuum", {"timeout": "2d"}, 422, "timeout"),
        ("POST", "/api/v1/db/kill-idle", {"older_than": "1s", "sudo": True}, 422, "sudo"),
    ],
)
async def test_wrong_input_is_a_4xx_that_says_what(
    api: dict[str, Any], method: str, path: str, body: dict[str, Any] | None, status: int, message: str
) -> None:
    answer = await api["client"].request(method, path, json=body, headers=auth(api, Role.ADMIN))
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
