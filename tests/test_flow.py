"""The result flow: a failing stage does not stop the others, and an outage is logged once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from vigil.flow import ResultFlow
from vigil.probes.base import Result


async def test_a_stage_failing_for_every_result_is_logged_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    broken = True

    async def store(result: Result) -> None:
        if broken:
            raise OSError("database or disk is full")

    async def board(result: Result) -> None:
        seen.append(result.check_id)

    flow = ResultFlow((("store", store), ("board", board)))
    result = Result("api.health", True, 1.0, datetime(2026, 1, 1, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="vigil.flow"):
        for _ in range(50):
            await flow(result)
        broken = False
        await flow(result)
    assert len(seen) == 51  # the stage after the failing one ran every time
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["stage store failed for api.health", "stage store works again after 50 failed results"]
