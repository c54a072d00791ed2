"""The lifecycle's faces over one store: ``/api/v1`` (409 and 422 with ``{"error": …}``, labels
and targets in every incident), the incident page's CSRF-protected controls and checklist, the
missed-target badge, and ``vigil_incident_targets_missed_total`` on ``/metrics``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import served
from tests.server.test_dashboard import HTMX, csrf_of
from vigil.engine.clock import FakeClock
from vigil.probes.base import Result
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token

STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
severity_scheme: SEV
severities:
  SEV2: {checklist: [Page the manager, Post in the incident channel]}
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1, severity: SEV2}}
"""


@pytest.fixture
async def setup(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        token = await create_token(runtime.engine, clock, "ana", Role.RESPONDER)
        yield client, runtime, clock, {"Authorization": f"Bearer {token}"}


async def failing(runtime: Runtime, clock: FakeClock) -> int:
    await runtime.flow(Result("api.health", False, 12.0, clock.now(), "status 500, expected 200"))
    incident = await runtime.incidents.open_for("api.health")
    assert incident is not None
    return incident.id


async def post(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, body: Any = None
) -> httpx.Response:
    return await client.post(f"/api/v1{path}", headers=auth, json=body)


async def test_the_api_walks_an_incident_through_its_lifecycle_and_refuses_what_its_state_does_not_allow(
    setup: tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]],
) -> None:
    client, runtime, clock, auth = setup
    incident_id = await failing(runtime, clock)
    [listed] = (await client.get("/api/v1/incidents", headers=auth)).json()
    assert listed["labels"] == {
        "alertname": "api.health",
        "check": "api.health",
        "kind": "http",
        "service": "api",
    }
    assert listed["targets"]["missed"] == [] and listed["severity"] == "SEV2"
    steps = [
        ("/acknowledge", None, 200, "acknowledged"),
        ("/assignee", {"name": "bob"}, 200, "acknowledged"),
        ("/commander", {"name": "carol"}, 200, "acknowledged"),
        ("/severity", {"severity": "SEV1"}, 200, "acknowledged"),
        ("/mitigate", {"note": "rolled back"}, 200, "mitigated"),
        ("/resolve", None, 200, "resolved"),
        ("/reopen", {"reason": "errors are back"}, 200, "triggered"),
    ]
    for path, body, status, state in steps:
        answer = await post(client, auth, f"/incidents/{incident_id}{path}", body)
        assert (path, answer.status_code, answer.json()["status"]) == (path, status, state)
    got = (await client.get(f"/api/v1/incidents/{incident_id}", headers=auth)).json()
    assert (got["severity"], got["assignee"], got["commander"], got["reopened"]) == (
        "SEV1",
        "bob",
        "carol",
        1,
    )
    assert got["level"]["name"] == "SEV1" and got["level"]["acknowledge_seconds"] == 300
    assert "severity SEV2 → SEV1 by ana" in [e["text"] for e in got["timeline"]]
    await post(client, auth, f"/incidents/{incident_id}/resolve")
    for path, body in (("/acknowledge", None), ("/resolve", None), ("/mitigate", None)):
        answer = await post(client, auth, f"/incidents/{incident_id}{path}", body)
        assert answer.status_code == 409
        assert set(answer.json()) == {"error"} and "resolved" in answer.json()["error"]


async def test_the_api_opens_an_incident_by_hand_and_names_an_unknown_severity(
    setup: tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]],
) -> None:
    client, _runtime, _clock, auth = setup
    made = await post(
        client, auth, "/incidents", {"title": "Chat not responding", "severity": "SEV2", "service": "api"}
    )
    assert made.status_code == 201
    assert (made.json()["title"], made.json()["labels"]) == (
        "Chat not responding",
        {"service": "api", "source": "manual"},
    )
    wrong = await post(client, auth, "/incidents", {"title": "Chat", "severity": "P1"})
    assert wrong.status_code == 422
    assert wrong.json() == {
        "error": "unknown severity 'P1'; the scheme has SEV1, SEV2, SEV3, SEV4",
        "request_id": None,
    } or (wrong.json()["error"] == "unknown severity 'P1'; the scheme has SEV1, SEV2, SEV3, SEV4")
    default = await post(client, auth, "/incidents", {"title": "Slow"})
    assert default.json()["severity"] == "SEV2"
    scheme = (await client.get("/api/v1/severities", headers=auth)).json()
    assert scheme["scheme"] == "SEV" and [lv["name"] for lv in scheme["levels"]] == [
        "SEV1",
        "SEV2",
        "SEV3",
        "SEV4",
    ]
    viewer = await create_token(_runtime.engine, _clock, "vic", Role.VIEWER)
    refused = await post(client, {"Authorization": f"Bearer {viewer}"}, "/incidents", {"title": "x"})
    assert refused.status_code == 403


async def test_the_api_merges_and_ticks_the_checklist(
    setup: tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]],
) -> None:
    client, runtime, clock, auth = setup
    survivor = await failing(runtime, clock)
    duplicate = (await post(client, auth, "/incidents", {"title": "Checkout errors"})).json()["id"]
    merged = await post(client, auth, f"/incidents/{duplicate}/merge", {"into": survivor})
    assert (merged.status_code, merged.json()["id"]) == (200, survivor)
    again = await post(client, auth, f"/incidents/{duplicate}/merge", {"into": survivor})
    assert again.status_code == 409
    ticked = await post(client, auth, f"/incidents/{survivor}/checklist", {"item": "1"})
    assert [(i["item"], i["done"], i["done_by"]) for i in ticked.json()] == [
        ("Page the manager", True, "ana"),
        ("Post in the incident channel", False, None),
    ]
    assert (await post(client, auth, f"/incidents/{survivor}/checklist", {"item": "1"})).status_code == 409
    assert (await post(client, auth, f"/incidents/{survivor}/checklist", {"item": "nope"})).status_code == 422
    got = (await client.get(f"/api/v1/incidents/{survivor}", headers=auth)).json()
    assert got["merged"] == [duplicate] and got["checklist"][0]["done"]


async def sign_in(client: httpx.AsyncClient, runtime: Runtime) -> str:
    token = await create_token(runtime.engine, runtime.clock, "alice", Role.RESPONDER)
    csrf = csrf_of(await client.get("/login"))
    assert (await client.post("/login", data={"token": token, "csrf": csrf})).status_code == 303
    return csrf_of(await client.get("/"))


async def test_the_incident_page_acts_through_csrf_protected_forms(
    setup: tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]],
) -> None:
    client, runtime, clock, _auth = setup
    incident_id = await failing(runtime, clock)
    csrf = await sign_in(client, runtime)
    page = (await client.get(f"/incidents/{incident_id}")).text
    for control in ("mitigate", "checklist", "assign", "severity", "merge"):
        assert f'action="/incidents/{incident_id}/{control}"' in page
    assert "kind=http" in page and "Page the manager" in page
    # Without the CSRF token nothing happens.
    refused = await client.post(f"/incidents/{incident_id}/assign", data={"name": "bob", "role": "assignee"})
    assert refused.status_code == 403
    assert (await runtime.incidents.get(incident_id)).assignee is None
    forms = [
        ("assign", {"name": "bob", "role": "assignee"}),
        ("assign", {"name": "carol", "role": "commander"}),
        ("severity", {"severity": "SEV1"}),
        ("mitigate", {"view": "incident"}),
    ]
    for action, data in forms:
        answer = await client.post(f"/incidents/{incident_id}/{action}", data={"csrf": csrf, **data})
        assert (action, answer.status_code, answer.headers["location"]) == (
            action,
            303,
            f"/incidents/{incident_id}",
        )
    ticked = await client.post(
        f"/incidents/{incident_id}/checklist", data={"csrf": csrf, "item": "2", "done": "true"}, headers=HTMX
    )
    assert ticked.status_code == 200
    assert re.search(
        r'aria-checked="true"[^>]*>☑</button>\s*</form>\s*2\. Assess impact and scope', ticked.text
    )
    incident = await runtime.incidents.get(incident_id)
    assert (incident.assignee, incident.commander, incident.severity, str(incident.status)) == (
        "bob",
        "carol",
        "SEV1",
        "mitigated",
    )
    kinds = [str(e.kind) for e in await runtime.incidents.timeline(incident_id)]
    assert kinds[-5:] == ["assigned", "assigned", "severity", "mitigated", "checklist"]
    # A refused change comes back as the page's message, not a 500.
    wrong = await client.post(f"/incidents/{incident_id}/severity", data={"csrf": csrf, "severity": "P9"})
    assert wrong.status_code == 422 and "unknown severity" in wrong.text


async def test_a_missed_target_shows_as_a_badge_and_on_metrics(
    setup: tuple[httpx.AsyncClient, Runtime, FakeClock, dict[str, str]],
) -> None:
    client, runtime, clock, auth = setup
    incident_id = await failing(runtime, clock)
    await clock.advance(16 * 60)  # SEV2: acknowledge within 15m
    await runtime.targets.once()
    await sign_in(client, runtime)
    page = (await client.get(f"/incidents/{incident_id}")).text
    assert "missed acknowledge target" in page
    overview = (await client.get("/")).text
    assert "missed acknowledge" in overview
    metrics = (await client.get("/metrics")).text
    assert 'vigil_incident_targets_missed_total{severity="SEV2",target="acknowledge"} 1.0' in metrics
    listed = (await client.get("/api/v1/incidents", headers=auth)).json()
    assert listed[0]["targets"]["missed"] == ["acknowledge"]
