"""``/ping/<key>`` as a crontab calls it: real ``curl`` against the app served by uvicorn on a
free port, with every task of ``vigil up`` running; each test twice, through ``vigil up``'s
fast path and through the ASGI layer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.conftest import uvicorn_served
from vigil.server.runtime import Runtime

SECRET_KEY = "given-key-0123456789abcdef"
STACK = """
server: {public_read: true, max_body: 20KB}
services:
  worker:
    checks:
      beat: {heartbeat: {every: 1h, grace: 1h}}
      given: {heartbeat: {every: 1h, key: "${BEAT_KEY}"}}
"""


@dataclass
class Served:
    url: str
    runtime: Runtime

    def ping(self, check: str) -> str:
        return f"{self.url}/ping/{self.runtime.heartbeats.beats[check].key}"


@pytest.fixture(params=["wire", "asgi"])
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """``vigil up``'s fast path (``server.ping_wire``), and the ASGI layer behind it: the same
    answers from both."""
    wire = request.param == "wire"
    async with uvicorn_served(tmp_path, STACK, {"BEAT_KEY": SECRET_KEY}, wire=wire) as (url, runtime, _):
        yield Served(url, runtime)


async def curl(*args: str) -> tuple[int, str]:
    """``curl -sS`` with ``args``: the last status code and the body(ies) printed."""
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-m", "10", "-w", "\n%{http_code}", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    body, _, code = out.decode().rpartition("\n")
    return int(code), body


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_job_pings_start_and_success_and_the_check_passes_with_its_run(served: Served) -> None:
    board = served.runtime.board.checks["worker.beat"]
    assert await curl(f"{served.ping('worker.beat')}/start") == (200, "OK")
    assert await curl("-X", "POST", "--data-binary", "all good", served.ping("worker.beat")) == (200, "OK")
    await eventually(lambda: board.last is not None and board.last.ok, "the check to pass")
    assert board.last is not None and "run_seconds" in board.last.values


async def test_a_non_zero_exit_status_fails_the_check_at_once_with_its_log(served: Served) -> None:
    board = served.runtime.board.checks["worker.beat"]
    log = "x" * 15_000 + "\npg_dump: error: connection refused"
    assert await curl("--data-binary", log, f"{served.ping('worker.beat')}/2") == (200, "OK")
    await eventually(lambda: board.last is not None and not board.last.ok, "the check to fail")
    assert board.last is not None and board.last.reason is not None
    # Only the first 10 KiB are kept: the last line of what was kept, not of what was sent.
    assert "exit status 2: xxxx" in board.last.reason
    assert await curl(f"{served.ping('worker.beat')}/0") == (200, "OK")
    await eventually(lambda: board.last is not None and board.last.ok, "the check to recover")


@pytest.mark.parametrize(
    ("suffix", "status", "error"),
    [
        ("/300", 400, "is not a ping"),
        ("/nonsense", 400, "end the URL with start, fail, log or an exit status 0-255"),
    ],
)
async def test_a_wrong_suffix_is_a_400_naming_the_ones_there_are(
    served: Served, suffix: str, status: int, error: str
) -> None:
    code, body = await curl(served.ping("worker.beat") + suffix)
    assert code == status
    assert error in json.loads(body)["error"]


async def test_an_unknown_key_is_a_404_and_stores_nothing(served: Served) -> None:
    code, body = await curl(f"{served.url}/ping/not-a-key-of-any-check-here")
    assert code == 404
    assert json.loads(body)["error"].startswith("no heartbeat check has this key")
    await served.runtime.heartbeats.writer.flush()
    async with served.runtime.engine.connect() as conn:
        from sqlalchemy import func, select

        from vigil.store.tables import PingRow

        assert (await conn.execute(select(func.count()).select_from(PingRow))).scalar() == 0


async def test_a_flood_of_pings_gets_429_past_the_rate(served: Served) -> None:
    url = served.ping("worker.beat")
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-w", "%{http_code} ", *(["-o", "/dev/null", url] * 30), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    codes = out.decode().split()
    assert codes.count("200") >= 10
    assert "429" in codes


async def test_a_body_over_max_body_is_a_413(served: Served) -> None:
    code, body = await curl("--data-binary", "y" * 30_000, served.ping("worker.beat"))
    assert code == 413
    assert "at most 20000 bytes" in json.loads(body)["error"]


async def test_a_key_from_the_stack_file_shows_nowhere(served: Served) -> None:
    assert await curl(f"{served.url}/ping/{SECRET_KEY}") == (200, "OK")
    for path in ("/api/v1/checks", "/api/v1/checks/worker.given", "/api/v1/services"):
        code, body = await curl(served.url + path)
        assert code == 200
        assert SECRET_KEY not in body
    code, body = await curl(f"{served.url}/api/v1/checks/worker.given")
    assert json.loads(body)["target"] == "ping every 1h, grace 1m"
