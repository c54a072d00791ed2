"""The dashboard's backup pages over a real SQLite job: the listing shows each job's last run and
recovery point (stale past the rpo), a job's page its artefacts and the data of its graph, and
its buttons back up and verify for a responder only."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from tests.server.test_backup_api import stack
from tests.server.test_dashboard import sign_in
from vigil.backups.jobs import job_named
from vigil.server.tokens import Role

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
    async with served(tmp_path, stack(tmp_path, tmp_path / "app.db")) as (client, runtime, clock):
        yield {"client": client, "runtime": runtime, "clock": clock, "job": job_named(runtime.stack, "appdb")}


def row_of(page: str, job: str) -> str:
    start = page.index(f'<a href="/backups/{job}">{job}</a>')
    return page[start : page.index("</tr>", start)]


async def test_the_listing_shows_each_job_fresh_after_a_backup_and_stale_past_its_rpo(
    setup: dict[str, Any],
) -> None:
    client, runtime = setup["client"], setup["runtime"]
    before = (await client.get("/backups")).text
    assert '<a href="/backups">Backups</a>' in before  # in the navigation of every page
    assert 'class="backup-job stale"' in before
    assert "no verified backup" in row_of(before, "appdb") and "none yet" in row_of(before, "appdb")

    assert (await runtime.backups.run_now(setup["job"])).ok
    fresh = row_of((await client.get("/backups")).text, "appdb")
    assert '<span class="dot ok"></span> ok' in fresh
    assert '<td class="recovery">' in fresh and "0s" in fresh and "rpo 1h 00m" in fresh
    assert "stale" not in fresh and '<td class="num">1</td>' in fresh and "KiB" in fresh

    await setup["clock"].advance(3601)
    stale = (await client.get("/backups")).text
    assert 'class="backup-job stale"' in stale
    assert '<td class="recovery stale">' in row_of(stale, "appdb") and "1h 00m" in row_of(stale, "appdb")


async def test_a_failed_backup_shows_failed_with_its_reason(setup: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.db").unlink()
    assert not (await setup["runtime"].backups.run_now(setup["job"])).ok
    row = row_of((await setup["client"].get("/backups")).text, "appdb")
    assert '<span class="dot failing"></span> failed' in row
    assert f"the SQLite database {tmp_path}/app.db does not exist" in row


async def test_a_job_page_lists_its_artefacts_and_draws_their_size_and_duration(
    setup: dict[str, Any],
) -> None:
    client, runtime = setup["client"], setup["runtime"]
    for _ in range(2):
        assert (await runtime.backups.run_now(setup["job"])).ok
        await setup["clock"].advance(60)
    page = await client.get("/backups/appdb", params={"hours": 168})
    assert page.status_code == 200
    assert page.text.count('<tr class="artefact good">') == 2
    assert 'data-graph="/api/v1/graphs/backups/appdb?hours=168"' in page.text
    assert "<strong>7 days</strong>" in page.text
    table = page.text.split('<details class="graph-table">', 1)[1]
    assert "size" in table and "duration" in table
    assert 'href="/checks/backups.appdb"' in page.text and "passing" in page.text

    graph = (await client.get("/api/v1/graphs/backups/appdb")).json()
    assert [(line["name"], line["unit"]) for line in graph["lines"]] == [
        ("size", "bytes"),
        ("duration", "ms"),
    ]
    assert len(graph["times"]) == 2 and graph["times"][1] - graph["times"][0] == pytest.approx(60)
    assert all(v > 1000 for v in graph["lines"][0]["values"])
    assert not graph["empty"]


async def test_the_buttons_back_up_and_verify_for_a_responder_and_refuse_a_viewer(
    setup: dict[str, Any],
) -> None:
    client, runtime = setup["client"], setup["runtime"]
    csrf = await sign_in(client, runtime, Role.VIEWER)
    forged = await client.post("/backups/appdb/run", headers=HTMX)
    assert forged.status_code == 403 and "CSRF" in forged.text
    viewer = await client.post("/backups/appdb/run", data={"csrf": csrf}, headers=HTMX)
    assert viewer.status_code == 403 and "responder" in viewer.text

    csrf = await sign_in(client, runtime, Role.RESPONDER)
    ran = await client.post("/backups/appdb/run", data={"csrf": csrf}, headers=HTMX)
    assert ran.status_code == 200
    assert ran.text.startswith('<section id="backup-job" class="backup-job fresh">')
    assert 'hx-swap-oob="true">The backup of appdb is done in' in ran.text
    assert ran.text.count('<tr class="artefact good">') == 1
    checked = await client.post("/backups/appdb/verify", data={"csrf": csrf}, headers=HTMX)
    assert "The verify of appdb is done" in checked.text
    actions = [r["action"] for r in (await client.get("/api/v1/backups/appdb")).json()["runs"]]
    assert sorted(actions) == ["backup", "verify", "verify"]  # a backup verifies itself

    plain = await client.post("/backups/appdb/run", data={"csrf": csrf})  # without JavaScript
    assert plain.status_code == 303 and plain.headers["location"] == "/backups/appdb"


async def test_an_unknown_job_is_refused_saying_which_jobs_there_are(setup: dict[str, Any]) -> None:
    client = setup["client"]
    page = await client.get("/backups/nope")
    assert page.status_code == 404 and "no backup job &#39;nope&#39;" in page.text and "appdb" in page.text
    graph = await client.get("/api/v1/graphs/backups/nope")
    assert graph.status_code == 404 and "no backup job 'nope'" in graph.json()["error"]
    csrf = await sign_in(client, setup["runtime"])
    run = await client.post("/backups/nope/run", data={"csrf": csrf}, headers=HTMX)
    assert run.status_code == 422 and "no backup job" in run.text
    assert (await client.get("/backups/appdb", params={"hours": 2161})).status_code == 422
