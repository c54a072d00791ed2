"""The result writer through a full disk: it keeps what the store refuses, retries with backoff
under its supervisor, says so once, and stores every result of the window when the disk frees."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from tests.store.full_disk import FullDisk
from vigil.engine.clock import FakeClock
from vigil.engine.supervisor import StageStatus, Supervisor
from vigil.probes.base import Result
from vigil.store.database import open_database
from vigil.store.results import ResultStore, ResultWriter
from vigil.store.tables import ResultRow


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    opened = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield opened
    await opened.dispose()


def results(clock: FakeClock, start: int, count: int) -> list[Result]:
    # Long reasons: a batch needs new pages, which the full disk refuses.
    return [Result(f"svc.c{i}", i % 3 != 0, 4.0, clock.now(), "x" * 300) for i in range(start, start + count)]


async def stored(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(ResultRow.check_id))).scalars())


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_full_disk_loses_no_result_and_is_logged_once(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    disk = FullDisk(engine)
    supervisor = Supervisor(clock)
    stage = supervisor.stage("writer")
    writer = ResultWriter(
        ResultStore(engine),
        retention=86400,
        clock=clock,
        flush_every=0.01,
        batch=40,
        on_written=stage.recovered,
    )
    supervisor.spawn("writer", writer.run, reports_recovery=True)
    try:
        for result in results(clock, 0, 100):
            await writer.accept(result)
        await eventually(lambda: _count(engine, 100), "the first results stored")

        disk.full = True
        caplog.set_level(logging.DEBUG, logger="vigil")
        for result in results(clock, 100, 300):
            await writer.accept(result)
        await eventually(lambda: _is(stage.status, StageStatus.FAILING), "the writer to fail")
        for _ in range(6):  # six retries, backoff 1, 2, 4, 8, 16, 32 s: each refused again
            await clock.advance(64)
            await asyncio.sleep(0.05)
        assert stage.status is StageStatus.FAILING
        assert stage.restarts >= 5
        assert stage.last_error == "OperationalError: database or disk is full"
        assert writer.backlog == 300
        failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert failures == ["writer failing: OperationalError: database or disk is full"]

        disk.full = False
        await clock.advance(64)
        await eventually(lambda: _is(stage.status, StageStatus.OK), "the writer to recover")
        assert await stored(engine) == {f"svc.c{i}" for i in range(400)}
        assert (writer.backlog, writer.dropped) == (0, 0)
        assert any("writer recovered after" in r.getMessage() for r in caplog.records)
    finally:
        await supervisor.stop()


async def test_past_its_bound_the_backlog_drops_the_oldest_with_one_line(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    disk = FullDisk(engine)
    writer = ResultWriter(ResultStore(engine), retention=86400, clock=clock, batch=40, max_backlog=100)
    disk.full = True
    for result in results(clock, 0, 250):
        await writer.accept(result)
    with pytest.raises(Exception, match="database or disk is full"):
        await writer.flush()
    assert (writer.backlog, writer.dropped) == (100, 150)
    dropping = [r for r in caplog.records if "the oldest are dropped" in r.getMessage()]
    assert len(dropping) == 1

    disk.full = False
    await writer.flush()
    assert await stored(engine) == {f"svc.c{i}" for i in range(150, 250)}


async def test_results_accepted_while_stopping_are_stored(engine: AsyncEngine) -> None:
    clock = FakeClock()
    supervisor = Supervisor(clock)
    writer = ResultWriter(ResultStore(engine), retention=86400, clock=clock, flush_every=60)
    supervisor.spawn("writer", writer.run)
    await asyncio.sleep(0.05)
    for result in results(clock, 0, 10):
        await writer.accept(result)
    await supervisor.stop()
    assert len(await stored(engine)) == 10


async def _count(engine: AsyncEngine, expected: int) -> bool:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ResultRow))).scalar_one()) == expected


async def _is(actual: StageStatus, expected: StageStatus) -> bool:
    return actual is expected
