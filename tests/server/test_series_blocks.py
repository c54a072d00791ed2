"""The runtime's series store over blocks on disk (``metrics.path``): compaction under the
supervisor and at stop, the write-ahead log replayed on top of the blocks without duplicates."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from tests.server.conftest import served
from vigil.engine.clock import FakeClock
from vigil.metrics.blocks import PREFIX
from vigil.metrics.compaction import BLOCK_SPAN
from vigil.metrics.series import Matcher, MatchOp
from vigil.metrics.store import NAME
from vigil.metrics.wal.log import SeriesLog
from vigil.server.runtime import Runtime

STACK = "services: {}\n"
LABELS = {NAME: "jobs_done_total", "job": "batch"}
SAMPLES = 240  # an hour at a 15 s interval


class Trim:
    """The series log, noting the times compaction trims it before."""

    def __init__(self, log: SeriesLog) -> None:
        self.log = log
        self.dropped: list[float] = []

    def drop_before(self, t: float) -> int:
        self.dropped.append(t)
        return self.log.drop_before(t)


def blocks_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(PREFIX))


def fill(runtime: Runtime) -> float:
    now = runtime.clock.now().timestamp()
    for i in range(SAMPLES):
        runtime.series.append(LABELS, now - 15.0 * (SAMPLES - 1 - i), float(i))
    return now


def held(runtime: Runtime, now: float) -> list[float]:
    (series,) = runtime.series.select([Matcher(NAME, MatchOp.EQUAL, LABELS[NAME])], now - 2 * 3600, now)
    return list(series.timestamps)


async def test_a_stop_writes_a_block_and_the_next_start_reads_it_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    async with served(tmp_path, STACK, start=True, series_path=folder) as (_client, runtime, _clock):
        now = fill(runtime)
        assert runtime.series_log is not None
        assert await runtime.series_log.flush()
        assert blocks_in(folder) == []
    assert blocks_in(folder) == [f"{PREFIX}000001"]  # the heads closed into a block at stop

    async with served(tmp_path, STACK, start=True, series_path=folder) as (_client, runtime, _clock):
        assert runtime.series_log is not None and runtime.series_log.replayed is not None
        # The log still holds the samples (its open segment was not dropped): the block has them,
        # so each is refused as a duplicate instead of held twice.
        assert (runtime.series_log.replayed.records, runtime.series_log.replayed.samples) == (2, 0)
        times = held(runtime, now)
        assert len(times) == SAMPLES and times == sorted(set(times))
        assert runtime.series.stats().duplicate + runtime.series.stats().out_of_order == SAMPLES
        assert runtime.series.append(LABELS, now + 15.0, 1.0) is not None
        assert held(runtime, now + 15.0)[-1] == now + 15.0


async def test_compaction_is_a_supervised_stage_that_writes_blocks_and_trims_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    async with served(tmp_path, STACK, start=True, series_path=folder) as (client, runtime, clock):
        ready = await client.get("/readyz")
        assert ready.json()["stages"]["series-blocks"]["status"] == "ok", ready.text
        fill(runtime)
        assert runtime.series_log is not None and runtime.compactor is not None
        assert await runtime.series_log.flush()
        # The runtime's compactor waits 2 h between runs; its loop is run here on its own clock,
        # since moving the runtime's clock 2 h wakes every other task thousands of times.
        runtime.compactor.wal = trim = Trim(runtime.series_log)
        own = FakeClock(clock.now())
        stage = runtime.supervisor.stages["series-blocks"]
        loop = asyncio.create_task(runtime.compactor.run(own, stage))
        await asyncio.sleep(0)  # the loop starts its wait
        await own.advance(BLOCK_SPAN)
        for _ in range(200):  # the block's files are written in a thread
            if trim.dropped:
                break
            await asyncio.sleep(0.02)
        loop.cancel()
        assert blocks_in(folder) == [f"{PREFIX}000001"]
        assert len(trim.dropped) == 1 and math.isfinite(trim.dropped[0])
        assert (await client.get("/readyz")).status_code == 200


async def test_a_block_that_cannot_be_written_shows_in_readyz(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    async with served(tmp_path, STACK, start=True, series_path=folder) as (client, runtime, clock):
        fill(runtime)
        assert runtime.compactor is not None
        runtime.compactor.blocks.path = tmp_path / "vigil.db" / "blocks"  # under a file: refused
        own = FakeClock(clock.now())
        loop = asyncio.create_task(runtime.compactor.run(own, runtime.supervisor.stages["series-blocks"]))
        await asyncio.sleep(0)  # the loop starts its wait
        await own.advance(BLOCK_SPAN)
        for _ in range(200):
            if runtime.compactor.failures:
                break
            await asyncio.sleep(0.02)
        loop.cancel()
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["series-blocks"].startswith(
            "failing: could not write a series block under"
        )
        runtime.compactor.blocks.path = folder  # the stop's compaction writes it
