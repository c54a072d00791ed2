"""A heartbeat's recent pings, read back: ``GET /api/v1/checks/{id}/pings`` and the check's
dashboard page, after real ``curl`` pings to the app served by uvicorn with every task of
``vigil up`` running. Reading needs a viewer (no ``public_read`` here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import free_port, sqlite_store_url
from tests.server.test_ping_routes import curl, eventually
from vigil.config.load import parse_stack
from vigil.engine.clock import SystemClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

SECRET = "s3cr3t-db-password"
STACK = """
services:
  backup:
    checks:
      nightly: {heartbeat: {every: 1h, grace: 1h}}
      port: {tcp: "127.0.0.1:9", every: 1h}
"""


class Served:
    def __init__(self, url: str, runtime: Runtime, viewer: str) -> None:
        self.url, self.runtime, self.viewer = url, runtime, viewer
        self.ping = f"{url}/ping/{runtime.heartbeats.beats['backup.nightly'].key}"

    async def read(self, path: str, *, token: str | None = None) -> tuple[int, str]:
        """``path`` read by a viewer: its token as the API's bearer and the dashboard's cookie."""
        given = token or self.viewer
        auth = ["-H", f"Authorization: Bearer {given}", "-b", f"vigil_token={given}"] if token != "" else []
        return await curl(*auth, self.url + path)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    # The secret is the stack file's (an environment value): what a job posts is masked with it.
    text = (
        STACK
        + "  db:\n    checks:\n      ping: {postgres: 'postgresql://u:${PW}@127.0.0.1:9/x', every: 1h}\n"
    )
    runtime = Runtime(parse_stack("vigil.yaml", text, {"PW": SECRET}), engine)
    viewer = await create_token(engine, SystemClock(), "reader", Role.VIEWER)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, "uvicorn to listen", 20.0)
    yield Served(f"http://127.0.0.1:{port}", runtime, viewer)
    server.should_exit = True
    await task
    await engine.dispose()


async def test_the_pings_come_back_newest_first_with_the_runs_duration_and_the_redacted_log(
    served: Served,
) -> None:
    assert await curl(f"{served.ping}/start") == (200, "OK")
    await asyncio.sleep(0.3)
    assert await curl("--data-binary", "dumped 12 tables\n", served.ping) == (200, "OK")
    log = f"connecting with {SECRET}\npg_dump: error: connection refused\n" + "z" * 20_000
    assert await curl("--data-binary", log, f"{served.ping}/3") == (200, "OK")
    await served.runtime.heartbeats.writer.flush()

    code, body = await served.read("/api/v1/checks/backup.nightly/pings")
    assert code == 200, body
    pings = json.loads(body)
    assert [p["kind"] for p in pings] == ["fail", "success", "start"]
    failed, success, start = pings
    assert failed["exit_status"] == 3 and failed["duration_seconds"] is None
    assert failed["excerpt"].startswith("connecting with ") and "pg_dump: error" in failed["excerpt"]
    assert len(failed["excerpt"]) <= 10 * 1024  # bounded when it arrived
    assert SECRET not in body
    assert 0.3 <= success["duration_seconds"] < 10 and success["excerpt"] == "dumped 12 tables\n"
    assert start["excerpt"] is None and start["at"] < success["at"] < failed["at"]
    code, body = await served.read("/api/v1/checks/backup.nightly/pings?limit=1")
    assert [p["kind"] for p in json.loads(body)] == ["fail"]

    code, page = await served.read("/checks/backup.nightly")
    assert code == 200
    assert "Last pings" in page and "pg_dump: error: connection refused" in page
    assert (
        page.index('class="ping fail"')
        < page.index('class="ping success"')
        < page.index('class="ping start"')
    )
    assert SECRET not in page


async def test_a_check_with_no_ping_says_how_to_get_its_url(served: Served) -> None:
    assert json.loads((await served.read("/api/v1/checks/backup.nightly/pings"))[1]) == []
    code, page = await served.read("/checks/backup.nightly")
    assert code == 200 and "vigil heartbeat url backup.nightly" in page
    code, page = await served.read("/checks/backup.port")
    assert code == 200 and "Last pings" not in page


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/checks/backup.nope/pings", 404, "no check backup.nope in vigil.yaml"),
        ("/api/v1/checks/backup.port/pings", 404, "backup.port is a tcp check, not a heartbeat"),
        ("/api/v1/checks/backup.nightly/pings?limit=0", 422, "limit"),
        ("/api/v1/checks/backup.nightly/pings?limit=101", 422, "limit"),
    ],
)
async def test_a_wrong_check_or_limit_is_a_4xx_saying_which(
    served: Served, path: str, status: int, error: str
) -> None:
    code, body = await served.read(path)
    assert code == status
    assert error in json.loads(body)["error"]


async def test_reading_the_pings_needs_a_viewer(served: Served) -> None:
    code, body = await served.read("/api/v1/checks/backup.nightly/pings", token="")
    assert code == 401 and "error" in json.loads(body)
    assert (await served.read("/checks/backup.nightly", token=""))[0] in (303, 401)
    assert (await served.read("/checks/backup.nope"))[0] == 404
