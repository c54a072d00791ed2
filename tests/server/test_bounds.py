"""Bounded input over HTTP, on a real store: a body past ``server.max_body`` is a 413, an
Alertmanager payload past its limits a 413 or 422, a long summary is cut with a marker, and an
id, offset or duration out of range is a 422 — each with ``{"error": …}``, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from vigil.alerting.alertmanager import MAX_ALERTS, TITLE_LIMIT, TRUNCATED
from vigil.server.tokens import Role, create_token

STACK = """
server: {max_body: 64KiB, public_read: true}
services:
  api:
    checks:
      health: {tcp: "127.0.0.1:9", every: 1h, alert: false}
"""
SILENCE = {"matchers": ["service=api"], "duration": "2h", "comment": "deploy"}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        token = await create_token(runtime.engine, clock, "responder", Role.RESPONDER)
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"client": client, "runtime": runtime}


def alert(fingerprint: str, status: str = "firing", summary: str = "disk full") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "service": "db", "instance": fingerprint},
        "annotations": {"summary": summary},
        "startsAt": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        "fingerprint": fingerprint,
    }


def payload(alerts: list[dict[str, Any]], status: str = "firing") -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{}", "status": status, "receiver": "vigil", "alerts": alerts}


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    return str(body["error"])


async def test_a_body_past_max_body_is_a_413_before_it_is_read(setup: dict[str, Any]) -> None:
    huge = payload([alert("a", summary="x" * 100_000)])
    answer = await setup["client"].post("/api/v1/alertmanager", json=huge)
    assert "server.max_body" in error_of(answer, 413)
    assert await setup["runtime"].incidents.list() == []


async def test_a_chunked_body_without_a_length_is_counted_too(setup: dict[str, Any]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"version": "4", "alerts": ["'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"]}'

    answer = await setup["client"].post(
        "/api/v1/alertmanager", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "65,536 bytes" in error_of(answer, 413)


async def test_a_long_summary_is_cut_with_a_marker_and_the_pages_stay_small(setup: dict[str, Any]) -> None:
    client = setup["client"]
    answer = await client.post("/api/v1/alertmanager", json=payload([alert("a", summary="y" * 50_000)]))
    assert answer.status_code == 200, answer.text
    [incident] = (await client.get("/api/v1/incidents")).json()
    assert len(incident["title"]) == TITLE_LIMIT
    assert incident["title"].endswith(TRUNCATED)
    assert len((await client.get("/")).content) < 60_000
    assert len((await client.get(f"/api/v1/incidents/{incident['id']}")).content) < 20_000


@pytest.mark.parametrize(
    ("alerts", "says"),
    [
        ([alert(f"f{i}") for i in range(MAX_ALERTS + 1)], "alerts"),
        ([alert("f" * 201)], "fingerprint"),
        ([{**alert("a"), "labels": {f"l{i}": "v" for i in range(101)}}], "labels"),
    ],
)
async def test_an_alertmanager_payload_past_its_limits_is_a_422(
    tmp_path: Path, alerts: list[dict[str, Any]], says: str
) -> None:
    async with served(tmp_path, STACK.replace("64KiB", "4MiB")) as (client, runtime, clock):
        token = await create_token(runtime.engine, clock, "responder", Role.RESPONDER)
        answer = await client.post(
            "/api/v1/alertmanager", json=payload(alerts), headers={"Authorization": f"Bearer {token}"}
        )
        assert says in error_of(answer, 422)
        assert await runtime.incidents.list() == []


async def test_a_storm_opens_each_alert_once_and_resolves_each_with_its_timeline(
    setup: dict[str, Any],
) -> None:
    client = setup["client"]
    firing = [alert("a"), alert("b"), alert("a"), alert("c")]
    opened = (await client.post("/api/v1/alertmanager", json=payload(firing))).json()
    assert len(opened["opened"]) == 3
    again = (await client.post("/api/v1/alertmanager", json=payload(firing))).json()
    assert again == {"opened": [], "resolved": []}
    ended = [alert(f, "resolved") for f in ("a", "b", "b", "zz")]
    resolved = (await client.post("/api/v1/alertmanager", json=payload(ended, "resolved"))).json()
    assert resolved == {"opened": [], "resolved": opened["opened"][:2]}
    for incident_id, status in zip(opened["opened"], ("resolved", "resolved", "triggered"), strict=True):
        shown = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
        assert shown["status"] == status
        kinds = [e["kind"] for e in shown["timeline"]]
        assert kinds == (["triggered", "recovered", "resolved"] if status == "resolved" else ["triggered"])


@pytest.mark.parametrize(
    ("method", "path", "body", "says"),
    [
        ("GET", "/api/v1/incidents/9223372036854775808", None, "incident_id"),
        ("GET", "/api/v1/incidents/2147483648", None, "incident_id"),
        ("GET", "/api/v1/incidents/0", None, "incident_id"),
        ("POST", "/api/v1/incidents/9223372036854775808/acknowledge", None, "incident_id"),
        ("GET", "/api/v1/incidents?offset=9223372036854775808", None, "offset"),
        ("GET", f"/api/v1/incidents?service={'x' * 201}", None, "service"),
        ("GET", "/api/v1/checks?offset=9223372036854775808", None, "offset"),
        ("GET", "/api/v1/silences/9223372036854775808", None, "silence_id"),
        ("DELETE", "/api/v1/silences/30746349034104518868992", None, "silence_id"),
        ("POST", "/api/v1/silences", {**SILENCE, "duration": "99999999999d"}, "longer than ten years"),
        ("POST", "/api/v1/silences", {**SILENCE, "duration": "400d"}, "at most 8760h"),
        ("POST", "/api/v1/maintenance", {"name": "deploy", "duration": "99999999999d"}, "ten years"),
        ("POST", "/api/v1/maintenance", {"name": "deploy", "duration": 1e308}, "ten years"),
        ("POST", "/api/v1/silences", {**SILENCE, "matchers": [""]}, "matchers"),
    ],
)
async def test_an_id_offset_or_duration_out_of_range_is_a_422(
    setup: dict[str, Any], method: str, path: str, body: Any, says: str
) -> None:
    answer = await setup["client"].request(method, path, json=body)
    assert says in error_of(answer, 422)
