"""Status updates and postmortems over the API and from the incident page's form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from tests.server.test_dashboard import csrf_of, sign_in
from vigil.probes.base import Result
from vigil.server.tokens import Role, create_token
from vigil.store import outbox

STACK = """
notify:
  channels: {hook: {webhook: "http://127.0.0.1:9/hook?key=${HOOK_KEY}"}}
  default: [hook]
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1, severity: P1}}
"""
SECRET = "s3cret-hook-key-value"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK, {"HOOK_KEY": SECRET}) as (client, runtime, clock):
        await runtime.flow(Result("api.health", False, 12.0, clock.now(), "status 500, expected 200"))
        tokens = {role: await create_token(runtime.engine, clock, f"{role}-user", role) for role in Role}
        [incident] = await runtime.incidents.list()
        yield {"client": client, "tokens": tokens, "runtime": runtime, "id": incident.id}


def auth(setup: dict[str, Any], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['tokens'][role]}"}


async def test_a_responder_posts_updates_that_are_listed_and_queued_for_the_channels(
    setup: dict[str, Any],
) -> None:
    client, incident = setup["client"], setup["id"]
    body = {"status": "identified", "text": "Bad deploy", "impact": "Checkout fails"}
    posted = await client.post(
        f"/api/v1/incidents/{incident}/updates", json=body, headers=auth(setup, Role.RESPONDER)
    )
    assert posted.status_code == 201, posted.text
    update = posted.json()
    assert (update["status"], update["actor"], update["impact"]) == (
        "identified",
        "responder-user",
        "Checkout fails",
    )
    assert update["message"].startswith("INCIDENT: [P1] ")
    listed = await client.get(f"/api/v1/incidents/{incident}/updates", headers=auth(setup, Role.VIEWER))
    assert [u["id"] for u in listed.json()] == [update["id"]]
    rows = await outbox.for_incident(setup["runtime"].engine, incident)
    assert [(r.event, r.channel) for r in rows] == [("triggered", "hook"), ("update", "hook")]


async def test_a_resolved_update_resolves_and_then_only_resolved_updates_are_taken(
    setup: dict[str, Any],
) -> None:
    client, incident, headers = setup["client"], setup["id"], auth(setup, Role.RESPONDER)
    done = await client.post(
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "resolved", "text": "Rolled back"},
        headers=headers,
    )
    assert done.status_code == 201
    shown = await client.get(f"/api/v1/incidents/{incident}", headers=headers)
    assert shown.json()["status"] == "resolved"
    late = await client.post(
        f"/api/v1/incidents/{incident}/updates", json={"status": "monitoring", "text": "x"}, headers=headers
    )
    assert late.status_code == 409 and "only a resolved update can follow" in late.json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "fixed", "text": "x"}, 422),
        ({"status": "identified", "text": ""}, 422),
        ({"status": "identified", "text": "x" * 10_001}, 422),
        ({"status": "identified", "text": "   "}, 422),
    ],
)
async def test_bad_updates_are_4xx_with_an_error_line(
    setup: dict[str, Any], body: dict[str, str], status: int
) -> None:
    answer = await setup["client"].post(
        f"/api/v1/incidents/{setup['id']}/updates", json=body, headers=auth(setup, Role.RESPONDER)
    )
    assert answer.status_code == status and "error" in answer.json()


async def test_a_viewer_may_read_but_not_post_and_an_unknown_incident_is_404(setup: dict[str, Any]) -> None:
    client = setup["client"]
    body = {"status": "identified", "text": "x"}
    refused = await client.post(
        f"/api/v1/incidents/{setup['id']}/updates", json=body, headers=auth(setup, Role.VIEWER)
    )
    assert refused.status_code == 403
    missing = await client.get("/api/v1/incidents/999/updates", headers=auth(setup, Role.VIEWER))
    assert (missing.status_code, missing.json()) == (404, {"error": "no incident 999"})
    assert (
        await client.get("/api/v1/incidents/999/postmortem", headers=auth(setup, Role.VIEWER))
    ).status_code == 404


async def test_the_postmortem_is_markdown_and_carries_no_secret(setup: dict[str, Any]) -> None:
    client, incident = setup["client"], setup["id"]
    text = f"the hook key {SECRET} was fine"
    await client.post(
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "resolved", "text": text},
        headers=auth(setup, Role.RESPONDER),
    )
    answer = await client.get(f"/api/v1/incidents/{incident}/postmortem", headers=auth(setup, Role.VIEWER))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    assert answer.text.startswith("# Postmortem: ")
    assert "## Root cause" in answer.text and "| Time to acknowledge |" in answer.text
    assert SECRET not in answer.text and "the hook key *** was fine" in answer.text


async def test_the_incident_pages_form_posts_an_update_under_the_signed_in_name(
    setup: dict[str, Any],
) -> None:
    client, runtime, incident = setup["client"], setup["runtime"], setup["id"]
    csrf = await sign_in(client, runtime)
    page = await client.get(f"/incidents/{incident}")
    assert f'action="/incidents/{incident}/updates"' in page.text and "No update posted yet" in page.text
    posted = await client.post(
        f"/incidents/{incident}/updates",
        data={"csrf": csrf_of(page), "status": "monitoring", "text": "Errors back to 0.1%", "impact": ""},
    )
    assert (posted.status_code, posted.headers["location"]) == (303, f"/incidents/{incident}")
    page = await client.get(f"/incidents/{incident}")
    assert "<strong>alice</strong>: monitoring: Errors back to 0.1%" in page.text
    wrong = await client.post(
        f"/incidents/{incident}/updates", data={"csrf": csrf, "status": "done", "text": "x"}
    )
    assert wrong.status_code == 400 and "choose a status: investigating, identified" in wrong.text
    forged = await client.post(f"/incidents/{incident}/updates", data={"status": "monitoring", "text": "x"})
    assert forged.status_code == 403
    listed = await client.get(f"/api/v1/incidents/{incident}/updates", headers=auth(setup, Role.VIEWER))
    assert [u["text"] for u in listed.json()] == ["Errors back to 0.1%"]  # the refused ones changed nothing
