"""The REST API over a real store: reads, token-guarded changes, and 4xx with JSON for mistakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from vigil.probes.base import Result
from vigil.server.tokens import Role, create_token

STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
services:
  api:
    depends_on: [db]
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1, severity: P1}}
  db:
    checks:
      ping: {postgres: "postgresql://app:s3cretpw@127.0.0.1:9/app"}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        # The database was probed and is fine, so the API's failure is its own and pages at once.
        await runtime.flow(Result("db.ping", True, 3.0, clock.now()))
        failing = Result("api.health", False, 12.0, clock.now(), "status 500, expected 200")
        await runtime.flow(failing)
        await runtime.writer.flush()
        tokens = {role: await create_token(runtime.engine, clock, f"{role}-user", role) for role in Role}
        yield {"client": client, "tokens": tokens, "runtime": runtime}


def auth(setup: dict[str, Any], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['tokens'][role]}"}


async def test_services_show_each_check_with_its_status_and_no_secret(setup: dict[str, Any]) -> None:
    response = await setup["client"].get("/api/v1/services", headers=auth(setup, Role.VIEWER))
    assert response.status_code == 200
    services = {s["name"]: s for s in response.json()}
    assert services["api"]["status"] == "failing"
    assert services["api"]["depends_on"] == ["db"]
    [health] = services["api"]["checks"]
    assert (health["id"], health["status"], health["reason"]) == (
        "api.health",
        "failing",
        "status 500, expected 200",
    )
    assert "s3cretpw" not in response.text


async def test_incidents_list_with_the_documented_fields(setup: dict[str, Any]) -> None:
    [incident] = (await setup["client"].get("/api/v1/incidents", headers=auth(setup, Role.VIEWER))).json()
    for field in ("id", "title", "status", "severity", "service", "check", "opened_at", "resolved_at"):
        assert field in incident
    assert (incident["status"], incident["check"], incident["service"]) == ("triggered", "api.health", "api")


async def test_a_check_s_results_come_from_the_store(setup: dict[str, Any]) -> None:
    answer = await setup["client"].get("/api/v1/checks/api.health/results", headers=auth(setup, Role.VIEWER))
    results = answer.json()
    assert [r["ok"] for r in results] == [False]


async def test_a_responder_acknowledges_notes_and_resolves(setup: dict[str, Any]) -> None:
    client, headers = setup["client"], auth(setup, Role.RESPONDER)
    [incident] = (await client.get("/api/v1/incidents", headers=headers)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    acked = await client.post(f"{path}/acknowledge", headers=headers)
    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == "responder-user"
    assert (await client.post(f"{path}/notes", headers=headers, json={"text": "on it"})).status_code == 201
    done = await client.post(f"{path}/resolve", headers=headers, json={"note": "fixed"})
    assert done.json()["status"] == "resolved"
    timeline = [e["kind"] for e in (await client.get(path, headers=headers)).json()["timeline"]]
    assert timeline == ["triggered", "acknowledged", "note", "note", "resolved"]


@pytest.mark.parametrize(
    ("method", "path", "role", "body", "status", "message"),
    [
        ("post", "/api/v1/incidents/1/acknowledge", None, None, 401, "needs a bearer token"),
        ("post", "/api/v1/incidents/1/acknowledge", "bogus", None, 401, "unknown or revoked token"),
        ("post", "/api/v1/incidents/1/acknowledge", Role.VIEWER, None, 403, "needs the responder role"),
        ("post", "/api/v1/incidents/999/acknowledge", Role.RESPONDER, None, 404, "no incident 999"),
        ("get", "/api/v1/incidents/999", Role.VIEWER, None, 404, "no incident 999"),
        ("get", "/api/v1/checks/nope.nothing", Role.VIEWER, None, 404, "no check 'nope.nothing'"),
        ("post", "/api/v1/incidents/1/notes", Role.RESPONDER, {"txt": "x"}, 422, None),
        ("post", "/api/v1/incidents/1/notes", Role.RESPONDER, "not json", 422, None),
        ("get", "/api/v1/incidents/abc", Role.VIEWER, None, 422, None),
        ("get", "/api/v1/incidents?status=exploded", Role.VIEWER, None, 422, None),
        ("get", "/api/v1/incidents", None, None, 401, "needs a bearer token"),
    ],
)
async def test_client_mistakes_answer_4xx_with_a_json_body(
    setup: dict[str, Any], method: str, path: str, role: Any, body: Any, status: int, message: str | None
) -> None:
    headers = {}
    if role == "bogus":
        headers = {"Authorization": "Bearer vgl_not-a-real-token"}
    elif role is not None:
        headers = auth(setup, role)
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, dict):
        kwargs["json"] = body
    elif body is not None:
        kwargs["content"] = body
        headers["Content-Type"] = "application/json"
    response = await getattr(setup["client"], method)(path, **kwargs)
    assert response.status_code == status
    payload = response.json()
    if message:
        assert message in payload["error"]


async def test_acknowledging_twice_is_a_conflict(setup: dict[str, Any]) -> None:
    client, headers = setup["client"], auth(setup, Role.RESPONDER)
    assert (await client.post("/api/v1/incidents/1/acknowledge", headers=headers)).status_code == 200
    again = await client.post("/api/v1/incidents/1/acknowledge", headers=headers)
    assert again.status_code == 409
    assert "only a triggered one" in again.json()["error"]


async def test_own_health_and_metrics(setup: dict[str, Any]) -> None:
    client = setup["client"]
    metrics = (await client.get("/metrics")).text
    assert 'vigil_check_runs_total{service="api",check="health"} 1' in metrics
    assert 'vigil_check_failures_total{service="api",check="health"} 1' in metrics
    assert 'vigil_check_up{service="api",check="health"} 0' in metrics
    assert 'vigil_checks_run_total{kind="http"} 1.0' in metrics
    assert "vigil_probe_duration_seconds_bucket" in metrics
    assert "vigil_outbox_depth" in metrics
    assert "vigil_open_incidents" in metrics
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["store"] == "ok"
