"""The dashboard's runbook pages over real shell steps: the listing, a procedure's page, and a
step run from a form — refused without CSRF or a responder, refused in its own box when it
needs confirmation or a placeholder, started otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import served
from tests.server.test_dashboard import csrf_of, sign_in
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role

RUNBOOK = """# Ops

## Say hello
Greets whoever reads.

```bash
echo "hello <name>"
```

## Clear the cache
```bash
redis-cli -u "$REDIS_URL" flushall
```

```mermaid
graph TD; a-->b
```
"""
STACK = """
runbooks: [ops.md]
env: {REDIS_URL: "redis://127.0.0.1:6379/15"}
services: {}
"""
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    (tmp_path / "ops.md").write_text(RUNBOOK)
    monkeypatch.chdir(tmp_path)  # the stack file names its runbooks relative to itself
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        yield client, runtime


async def test_the_listing_and_a_procedure_page_show_every_step(
    app: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app
    await sign_in(client, runtime, Role.VIEWER)
    listing = (await client.get("/runbooks")).text
    assert 'href="/runbooks/ops.md%23say-hello"' in listing and "Clear the cache" in listing

    page = (await client.get("/runbooks/ops.md%23clear-the-cache")).text
    assert "redis-cli -u &#34;$REDIS_URL&#34; flushall" in page  # code is escaped, never markup
    assert "It needs your confirmation because of: flushdb/flushall" in page
    assert 'data-opens="' in page and "<dialog" in page
    assert "Shown, never run (mermaid)" in page
    hello = (await client.get("/runbooks/Say hello")).text
    assert 'name="param.name"' in hello and "echo &#34;hello &lt;name&gt;&#34;" in hello

    assert "Say hello" in (await client.get("/runbooks/ops.md%23say-helo")).text  # close enough
    missing = await client.get("/runbooks/restart%20the%20world")
    assert missing.status_code == 404 and "closest: ops.md#say-hello" in missing.text


async def test_a_step_runs_from_its_form_and_its_box_streams_the_output(
    app: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app
    csrf = await sign_in(client, runtime)
    form = {"csrf": csrf, "procedure": "ops.md#say-hello", "step": "1", "param.name": "ana"}

    answer = await client.post("/runbook-runs", data=form, headers=HTMX)

    assert answer.status_code == 200
    (live,) = runtime.live.runs.values()
    assert f'data-stream="/runbook-runs/{live.id}/stream"' in answer.text
    assert live.request.actor == "alice" and live.request.params == {"name": "ana"}
    await asyncio.wait_for(live.ended.wait(), 10)
    stream = (await client.get(f"/runbook-runs/{live.id}/stream")).text  # signed in by cookie
    assert 'event: line\ndata: {"step": 1, "line": "hello ana"}' in stream
    assert "event: done" in stream
    assert "ops.md#say-hello" in (await client.get(f"/runbook-runs/{live.id}")).text

    plain = await client.post("/runbook-runs", data=form)  # no JavaScript: the run's own page
    assert plain.status_code == 303 and plain.headers["location"].startswith("/runbook-runs/")


async def test_a_refused_step_says_why_in_its_own_box(app: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app
    csrf = await sign_in(client, runtime)
    unconfirmed = {"csrf": csrf, "procedure": "ops.md#clear-the-cache", "step": "1"}
    refused = await client.post("/runbook-runs", data=unconfirmed, headers=HTMX)
    assert refused.status_code == 409
    assert 'class="run refused"' in refused.text and "needs confirmation: flushdb/flushall" in refused.text
    no_name = {"csrf": csrf, "procedure": "ops.md#say-hello", "step": "1"}
    missing = await client.post("/runbook-runs", data=no_name, headers=HTMX)
    assert missing.status_code == 422 and "--param name=" in missing.text
    shown = {"csrf": csrf, "procedure": "ops.md#clear-the-cache", "step": "2"}
    assert "shown, never run" in (await client.post("/runbook-runs", data=shown, headers=HTMX)).text
    assert not runtime.live.runs


async def test_running_needs_the_form_s_csrf_and_a_responder(app: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app
    csrf = await sign_in(client, runtime, Role.VIEWER)
    form = {"procedure": "ops.md#say-hello", "step": "1", "param.name": "x"}
    forged = await client.post("/runbook-runs", data=form, headers=HTMX)
    assert forged.status_code == 403 and "CSRF" in forged.text
    viewer = await client.post("/runbook-runs", data={**form, "csrf": csrf}, headers=HTMX)
    assert viewer.status_code == 403 and "responder" in viewer.text
    assert not runtime.live.runs
    assert csrf_of(await client.get("/runbooks"))  # the pages still read for a viewer
