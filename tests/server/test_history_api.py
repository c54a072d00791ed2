"""A check's chart history over HTTP, from results that went through the real flow and store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from vigil.metrics.history import HistoryWriter
from vigil.probes.base import Result

STACK = """
server: {public_read: true}  # reading is not what this file tests (test_private.py is)
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
  db:
    checks:
      ping: {postgres: "postgresql://app@127.0.0.1:9/app"}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        yield {"client": client, "runtime": runtime, "clock": clock}


async def test_history_shows_each_flushed_bucket_of_the_check(setup: dict[str, Any]) -> None:
    runtime, clock = setup["runtime"], setup["clock"]
    await runtime.flow(Result("api.health", True, 12.0, clock.now()))
    await runtime.flow(Result("db.ping", True, 99.0, clock.now()))
    await clock.advance(60)
    await runtime.flow(Result("api.health", False, 20.0, clock.now(), "status 500, expected 200"))
    await clock.advance(300)
    await HistoryWriter(runtime.series, runtime.engine, clock).flush_once(clock.now())

    response = await setup["client"].get("/api/v1/checks/api.health/history", params={"hours": 1})
    assert response.status_code == 200
    assert response.json() == {
        "check": "api.health",
        "step_s": 300,
        "points": [
            {
                "at": "2026-01-01T00:00:00+00:00",
                "up_avg": 0.5,
                "duration_ms_avg": 16.0,
                "duration_ms_max": 20.0,
                "count": 2,
            }
        ],
    }


async def test_history_of_an_unknown_check_is_a_404_with_a_reason(setup: dict[str, Any]) -> None:
    response = await setup["client"].get("/api/v1/checks/api.nope/history")
    assert response.status_code == 404
    assert "api.nope" in response.json()["error"]


@pytest.mark.parametrize("hours", [0, 721])
async def test_history_refuses_hours_outside_one_to_720(setup: dict[str, Any], hours: int) -> None:
    response = await setup["client"].get("/api/v1/checks/api.health/history", params={"hours": hours})
    assert response.status_code == 422
