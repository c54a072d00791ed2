"""Runbook sections suggested on incidents, in the API, on the incident page and in the page a
channel sends; runbooks due for review in the API and on the overview."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.server.conftest import Switch, served, wait_until
from vigil.probes.base import Result
from vigil.server.runtime import Runtime
from vigil.store.tables import OutboxRow

OPS = """\
# Ops runbook
*Last updated: 2020-01-15*

## Issue: 502 Bad Gateway

The load balancer cannot reach the api: it crashed or is out of memory.

```bash {name=logs}
curl -sS http://127.0.0.1:9/health
```

## Issue: Database connection errors

```bash
psql $DATABASE_URL -c "SELECT 1"
```

## Restart the api

Careful: this drops requests in flight.

```bash
echo restart
```
"""

STACK = """
server: {public_read: true}
runbooks: [runbooks/*.md]
notify:
  channels: {log: {log: true}}
  default: [log]
services:
  api:
    checks:
      health:
        http: http://127.0.0.1:9/health
        alert: {after: 1, severity: P1}
        runbook: ops.md#restart-the-api
"""


@pytest.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)  # the stack file is ./vigil.yaml, its runbooks beside it
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(OPS)
    async with served(tmp_path, STACK) as (client, runtime, clock):
        await runtime.flow(Result("api.health", False, 12.0, clock.now(), "status 502, expected 200"))
        [incident] = await runtime.incidents.list()
        yield {"client": client, "runtime": runtime, "incident": incident.id}


async def test_the_api_shows_the_named_section_first_then_the_best_ranked(setup: dict[str, Any]) -> None:
    answer = await setup["client"].get(f"/api/v1/incidents/{setup['incident']}")
    assert answer.status_code == 200
    runbooks = answer.json()["runbooks"]
    assert [r["id"] for r in runbooks][:2] == [
        "runbooks/ops.md#restart-the-api",
        "runbooks/ops.md#issue-502-bad-gateway",
    ]
    named, ranked = runbooks[0], runbooks[1]
    assert (named["why"], named["score"], named["title"]) == (
        "named by the check api.health",
        None,
        "Restart the api",
    )
    assert ranked["why"].startswith("matches ") and "502" in ranked["why"] and ranked["score"] > 0
    assert [s["name"] for s in ranked["steps"]] == ["logs"]
    assert ranked["steps"][0]["code"].strip() == "curl -sS http://127.0.0.1:9/health"
    assert ranked["url"] == f"/incidents/{setup['incident']}#runbook-runbooks-ops-md-issue-502-bad-gateway"
    assert len(runbooks) <= 3


async def test_the_incident_page_shows_each_suggestion_with_why_and_a_link(setup: dict[str, Any]) -> None:
    page = await setup["client"].get(f"/incidents/{setup['incident']}")
    assert page.status_code == 200
    html = page.text
    panel = html[html.index('<section id="runbook"') :]
    assert "<h2>Runbook</h2>" in panel
    assert 'id="runbook-runbooks-ops-md-issue-502-bad-gateway"' in panel
    assert 'href="#runbook-runbooks-ops-md-issue-502-bad-gateway">Issue: 502 Bad Gateway</a>' in panel
    assert "named by the check api.health" in panel
    assert panel.index("Restart the api") < panel.index("Issue: 502 Bad Gateway")
    # Outside the part that polls: a step's output under a procedure survives a refresh.
    live = await setup["client"].get(f"/fragments/incidents/{setup['incident']}")
    assert 'id="runbook"' not in live.text


async def test_the_trigger_page_names_the_suggestions(setup: dict[str, Any]) -> None:
    runtime: Runtime = setup["runtime"]
    async with runtime.engine.connect() as conn:
        [payload] = (await conn.execute(select(OutboxRow.payload))).scalars().all()
    assert [r["id"] for r in payload["runbooks"]][:2] == [
        "runbooks/ops.md#restart-the-api",
        "runbooks/ops.md#issue-502-bad-gateway",
    ]
    assert payload["runbooks"][0] == {
        "id": "runbooks/ops.md#restart-the-api",
        "title": "Restart the api",
        "why": "named by the check api.health",
    }


async def test_runbooks_due_for_review_show_in_the_api_and_on_the_overview(setup: dict[str, Any]) -> None:
    review = (await setup["client"].get("/api/v1/runbooks/review")).json()
    assert review["runbooks"] == 1 and review["max_age_days"] == 180
    [stale] = review["stale"]
    assert re.fullmatch(
        r"runbooks/ops\.md:2: last updated 2020-01-15, \d+ days ago; review it \(runbooks_max_age\)", stale
    )
    overview = (await setup["client"].get("/")).text
    assert "<b>1</b> runbook due for review" in overview
    assert "runbooks/ops.md:2: last updated 2020-01-15" in overview


async def test_without_runbooks_an_incident_has_none_and_the_page_says_how_to_add_them(
    tmp_path: Path,
) -> None:
    stack = STACK.replace("runbooks: [runbooks/*.md]\n", "").replace(
        "        runbook: ops.md#restart-the-api\n", ""
    )
    async with served(tmp_path, stack) as (client, runtime, clock):
        await runtime.flow(Result("api.health", False, 12.0, clock.now(), "status 502, expected 200"))
        [incident] = await runtime.incidents.list()
        assert (await client.get(f"/api/v1/incidents/{incident.id}")).json()["runbooks"] == []
        assert (
            "list yours under <code>runbooks:</code>" in (await client.get(f"/incidents/{incident.id}")).text
        )
        assert (await client.get("/api/v1/runbooks/review")).json()["stale"] == []
        assert "due for review" not in (await client.get("/")).text


def test_vigil_up_pages_a_webhook_and_a_chat_channel_with_the_suggestions(
    tmp_path: Path, target: Switch, receiver: Switch, vigil_up: Any
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(OPS.replace("502 Bad Gateway", "500 Internal Server Error"))
    vigil = vigil_up(
        f"""
runbooks: [runbooks/*.md]
notify:
  channels:
    hook: {{webhook: "{receiver.url}/hook"}}
    chat: {{apprise: "json://127.0.0.1:{receiver.server_address[1]}/chat"}}
  default: [hook, chat]
services:
  api:
    checks:
      health:
        http: {target.url}/health
        every: 500ms
        alert: {{after: 1, severity: P1}}
        runbook: ops.md#restart-the-api
"""
    )
    vigil.start()
    wait_until(lambda: vigil.api("/services")[0]["status"] == "ok", 10, "the check to pass")
    target.healthy = False
    wait_until(lambda: len(receiver.received) >= 2, 15, "both pages")
    with receiver.lock:
        hook = next(m for m in receiver.received if "event" in m)
        chat = next(m for m in receiver.received if "message" in m)
    assert [r["id"] for r in hook["runbooks"]][:2] == [
        "runbooks/ops.md#restart-the-api",
        "runbooks/ops.md#issue-500-internal-server-error",
    ]
    # The page's last line is its acknowledge link (incidents.ack_links).
    first, link, *runbooks, ack = chat["message"].splitlines()
    assert ack.startswith(f"Acknowledge: {vigil.url}/ack/vga_")
    assert (first, link) == (
        "api.health: status 500, expected 2xx",
        f"{vigil.url}/incidents/{hook['incident_id']}",
    )
    assert runbooks[:2] == [
        "Runbook: runbooks/ops.md#restart-the-api \u2014 Restart the api",
        "Runbook: runbooks/ops.md#issue-500-internal-server-error \u2014 Issue: 500 Internal Server Error",
    ]
    assert len(runbooks) <= 3 and all(line.startswith("Runbook: ") for line in runbooks)
