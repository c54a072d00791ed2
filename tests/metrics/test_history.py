"""Downsampled history on the real store (SQLite and PostgreSQL), fed by a real series store."""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import FakeClock
from vigil.metrics.history import HistoryPoint, HistoryWriter, read
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import NAME, SeriesStore

UP = {NAME: "vigil_check_up", "service": "api", "check": "health", "kind": "http"}
DURATION = {**UP, NAME: "vigil_check_duration_seconds"}
START = datetime(2026, 1, 1, tzinfo=UTC)  # FakeClock's start, on a 5-minute boundary
T0 = START.timestamp()
FAR = START + timedelta(days=1)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def three_buckets(store: SeriesStore) -> None:
    """Two complete 5-minute buckets and one in progress, with a stale marker and a NaN."""
    for offset, value in [(10, 1.0), (100, 0.0), (200, 1.0), (250, STALE_NAN), (310, 0.5), (400, math.nan)]:
        store.append(UP, T0 + offset, value)
    store.append(UP, T0 + 590, 0.25)
    store.append(UP, T0 + 610, 9.0)  # the bucket in progress at 700 s
    store.append(DURATION, T0 + 10, 0.2)
    store.append(DURATION, T0 + 320, 0.4)
    store.append({**UP, NAME: "vigil_check_value", "value": "connect_ms"}, T0 + 10, 3.0)


def summary(point: HistoryPoint) -> tuple[datetime, int, float, float, float, float]:
    return (point.at, point.count, round(point.avg, 6), point.min, point.max, point.last)


async def test_a_flush_writes_each_complete_bucket_once_with_its_aggregates(engine: AsyncEngine) -> None:
    store = SeriesStore()
    three_buckets(store)
    writer = HistoryWriter(store, engine, FakeClock())
    assert await writer.flush_once(at(700)) == 4
    assert await writer.flush_once(at(700)) == 0
    up = await read(engine, "vigil_check_up", {"service": "api", "check": "health"}, START, FAR)
    assert [summary(p) for p in up] == [
        (at(0), 3, round(2 / 3, 6), 0.0, 1.0, 1.0),
        (at(300), 2, 0.375, 0.25, 0.5, 0.25),
    ]
    assert up[0].labels == {"service": "api", "check": "health", "kind": "http"}
    duration = await read(engine, "vigil_check_duration_seconds", {"check": "health"}, START, FAR)
    assert [(p.at, p.count, p.avg) for p in duration] == [(at(0), 1, 0.2), (at(300), 1, 0.4)]
    assert await read(engine, "vigil_check_value", {}, START, FAR) == []


async def test_the_bucket_in_progress_is_written_once_it_completes(engine: AsyncEngine) -> None:
    store = SeriesStore()
    three_buckets(store)
    writer = HistoryWriter(store, engine, FakeClock())
    await writer.flush_once(at(700))
    store.append(UP, T0 + 650, 7.0)
    assert await writer.flush_once(at(900)) == 1
    up = await read(engine, "vigil_check_up", {}, at(600), FAR)
    assert [summary(p) for p in up] == [(at(600), 2, 8.0, 7.0, 9.0, 7.0)]


async def test_a_bucket_of_only_stale_markers_and_nans_writes_no_row(engine: AsyncEngine) -> None:
    store = SeriesStore()
    store.append(UP, T0 + 10, math.nan)
    store.append(UP, T0 + 20, STALE_NAN)
    assert await HistoryWriter(store, engine, FakeClock()).flush_once(at(300)) == 0


async def test_reading_needs_every_label_of_the_subset_exactly(engine: AsyncEngine) -> None:
    store = SeriesStore()
    store.append(UP, T0 + 10, 1.0)
    store.append({**UP, "check": "healthz"}, T0 + 10, 0.0)
    store.append({**UP, "check": 'he"al%th'}, T0 + 10, 0.5)
    await HistoryWriter(store, engine, FakeClock()).flush_once(at(300))
    for check, avg in [("health", 1.0), ("healthz", 0.0), ('he"al%th', 0.5)]:
        [point] = await read(engine, "vigil_check_up", {"check": check}, START, FAR)
        assert point.avg == avg
    assert await read(engine, "vigil_check_up", {"check": "heal"}, START, FAR) == []
    assert len(await read(engine, "vigil_check_up", {"service": "api"}, START, FAR)) == 3


async def test_rows_older_than_the_retention_are_pruned(engine: AsyncEngine) -> None:
    store = SeriesStore()
    three_buckets(store)
    writer = HistoryWriter(store, engine, FakeClock(), retention=600)
    await writer.flush_once(at(700))
    await writer.flush_once(at(960))  # keeps buckets starting at or after 360 s
    starts = [p.at for p in await read(engine, "vigil_check_up", {}, START, FAR)]
    assert starts == [at(600)]


async def test_a_restarted_writer_resumes_after_the_last_bucket_in_the_table(engine: AsyncEngine) -> None:
    store = SeriesStore()
    three_buckets(store)
    await HistoryWriter(store, engine, FakeClock()).flush_once(at(700))
    restarted = HistoryWriter(store, engine, FakeClock())
    assert await restarted.flush_once(at(700)) == 0
    assert await restarted.flush_once(at(900)) == 1
    starts = [p.at for p in await read(engine, "vigil_check_up", {}, START, FAR)]
    assert starts == [at(0), at(300), at(600)]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_the_run_loop_flushes_just_after_each_boundary(engine: AsyncEngine) -> None:
    clock = FakeClock()
    store = SeriesStore()
    store.append(UP, T0 + 10, 1.0)
    task = asyncio.create_task(HistoryWriter(store, engine, clock).run())
    try:
        await clock.advance(299)
        assert await read(engine, "vigil_check_up", {}, START, FAR) == []
        await clock.advance(10)
        for _ in range(100):  # the flush runs on the database's own threads
            if await read(engine, "vigil_check_up", {}, START, FAR):
                break
            await asyncio.sleep(0.01)
        assert [p.at for p in await read(engine, "vigil_check_up", {}, START, FAR)] == [START]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
