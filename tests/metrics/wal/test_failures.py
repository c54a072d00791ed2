"""A series log that cannot write: the failure is told once, shown on ``/readyz`` and ``/metrics``
and paged by Vigil's self-check after a minute; the store keeps its samples in memory, and each
later turn tries again until the disk takes them (and the self-check says so).

"Not writable" is a path under a regular file (``mkdir`` fails with ``ENOTDIR``, for root as for
anyone: a ``chmod 500`` folder would not stop root, whom these tests run as). "Full" is a real
1 MiB tmpfs, mounted for the test (root only: mounting is what needs it)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.metrics.wal.conftest import SERIES, reopened
from tests.server.conftest import Switch, served
from vigil.engine.clock import FakeClock, SystemClock
from vigil.engine.supervisor import StageStatus, Supervisor
from vigil.metrics.store import SeriesStore
from vigil.metrics.wal.log import LogOptions, SeriesLog

STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
"""


def failing_log(folder: Path, options: LogOptions | None = None) -> tuple[SeriesStore, SeriesLog]:
    store = SeriesStore(retention=math.inf)
    stage = Supervisor(FakeClock()).stage("series-log")
    log = SeriesLog(folder, SystemClock(), stage=stage, options=options)
    log.open(store)
    return store, log


def health(log: SeriesLog) -> StageStatus:
    assert log.stage is not None
    return log.stage.status


async def test_a_folder_that_cannot_be_made_is_told_once_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "series"
    blocker.write_text("a file where the folder should be")
    store, log = failing_log(blocker / "wal")
    for t in range(3):
        store.append(SERIES[0], 1000.0 + t, 1.0)
    with caplog.at_level(logging.ERROR, "vigil.supervisor"):
        assert not await log.flush()
        assert not await log.flush()
    assert health(log) is StageStatus.FAILING
    assert log.stage is not None
    assert log.stage.last_error == f"cannot write the series log in {blocker / 'wal'}: Not a directory"
    told = [r.getMessage() for r in caplog.records if r.name == "vigil.supervisor"]
    assert told == [f"series-log failing: {log.stage.last_error}"]
    stats = log.stats()
    assert (stats.failures, stats.pending, stats.written, stats.lost) == (2, 3, 0, 0)
    assert store.stats().samples == 3  # still evaluated from memory

    blocker.unlink()
    store.append(SERIES[0], 1003.0, 1.0)
    assert await log.flush()
    assert health(log) is StageStatus.OK
    _, done = reopened(blocker / "wal")
    assert (done.samples, done.skipped) == (4, 0)


async def test_samples_waiting_beyond_the_backlog_are_dropped_and_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "series"
    blocker.write_text("")
    store, log = failing_log(blocker, LogOptions(backlog=5))
    for t in range(9):
        store.append(SERIES[0], 1000.0 + t, 1.0)
    assert not await log.flush()
    assert (log.stats().lost, log.stats().pending) == (4, 5)


async def test_the_log_tries_each_second_then_less_often_while_the_disk_refuses(tmp_path: Path) -> None:
    blocker = tmp_path / "series"
    blocker.write_text("")
    clock = FakeClock()
    store = SeriesStore(retention=math.inf)
    log = SeriesLog(blocker / "wal", clock, stage=Supervisor(clock).stage("series-log"))
    log.open(store)
    store.append(SERIES[0], 1000.0, 1.0)
    task = asyncio.create_task(log.run())
    await clock.advance(0)  # the loop starts and takes its first nap
    try:
        # (advance the clock by, failed tries by then): 1 s to the first, then waits of 1 s, 2 s.
        for seconds, tries in ((1.15, 1), (0.5, 1), (0.7, 2), (1.5, 2), (0.7, 3)):
            await clock.advance(seconds)
            await until(lambda tries=tries: log.failures >= tries)  # type: ignore[misc]
            await asyncio.sleep(0.1)
            assert log.failures == tries
        blocker.unlink()
        await clock.advance(5)
        await until(lambda: log.written == 1)
    finally:
        task.cancel()


async def until(condition: Callable[[], bool]) -> None:
    """The write runs in a thread: wait for it in real time."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_full_disk_keeps_the_samples_waiting_and_leaves_no_torn_record(small_disk: Path) -> None:
    filler = small_disk / "filler"
    with filler.open("wb") as out, pytest.raises(OSError, match="No space left"):
        while True:
            out.write(b"x" * 65536)
            out.flush()
    filler.write_bytes(b"x" * (filler.stat().st_size - 8192))  # two pages free: ~100 batches
    store, log = failing_log(small_disk / "wal")
    refused = 0
    for batch in range(200):
        for labels in SERIES:
            store.append(labels, 1000.0 + batch, float(batch))
        refused += not await log.flush()
    assert refused
    assert health(log) is StageStatus.FAILING
    assert log.stage is not None
    assert "No space left on device" in (log.stage.last_error or "")

    filler.unlink()
    assert await log.flush()
    assert health(log) is StageStatus.OK
    _, done = reopened(small_disk / "wal")
    assert (done.samples, done.skipped, log.stats().lost) == (600, 0, 0)


async def test_readyz_and_metrics_show_a_log_that_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "series"
    blocker.write_text("")
    async with served(tmp_path, STACK, start=True, series_path=blocker) as (client, runtime, _clock):
        assert runtime.series_log is not None
        runtime.series.append(SERIES[0], 1000.0, 1.0)
        assert not await runtime.series_log.flush()
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        error = f"cannot write the series log in {blocker / 'wal'}: Not a directory"
        assert ready.json()["checks"]["series-log"] == f"failing: {error}"
        metrics = (await client.get("/metrics")).text
        assert 'vigil_stage_up{stage="series-log"} 0.0' in metrics
        assert "vigil_series_log_write_failures_total 1.0" in metrics
        assert "vigil_series_log_pending_samples 1.0" in metrics
        assert "vigil_series_blocks 0.0" in metrics and "vigil_series_block_damaged_chunks 0.0" in metrics

        blocker.unlink()
        assert await runtime.series_log.flush()
        assert (await client.get("/readyz")).status_code == 200
        assert "vigil_series_log_samples_written_total 1.0" in (await client.get("/metrics")).text


async def test_a_log_refusing_writes_for_a_minute_pages_once_and_its_recovery_too(
    tmp_path: Path, receiver: Switch
) -> None:
    blocker = tmp_path / "series"
    blocker.write_text("")
    stack = f'notify:\n  channels:\n    hook: {{webhook: "{receiver.url}"}}\n  default: [hook]\n'
    async with served(tmp_path, stack, start=True, series_path=blocker) as (client, runtime, clock):
        assert runtime.series_log is not None
        runtime.series.append(SERIES[0], clock.now().timestamp(), 1.0)
        assert not await runtime.series_log.flush()
        await clock.advance(55)  # failing, but not yet for a minute
        await asyncio.sleep(0.1)
        assert receiver.received == []
        await clock.advance(10)
        await until(lambda: len(receiver.received) == 1)
        [page] = receiver.received
        assert (page["event"], page["title"], page["check"]) == (
            "triggered",
            "Vigil cannot write its series log",
            "vigil.series-log",
        )
        assert f"cannot write the series log in {blocker / 'wal'}: Not a directory" in page["reason"]
        assert (await client.get("/readyz")).status_code == 503
        assert runtime.series.stats().samples == 1  # still evaluated from memory

        await clock.advance(30)  # refused for longer: no second page
        await asyncio.sleep(0.2)
        assert len(receiver.received) == 1

        blocker.unlink()
        assert await runtime.series_log.flush()
        await clock.advance(5)  # the alarm's next look
        await until(lambda: len(receiver.received) == 2)
        resolved = receiver.received[1]
        assert (resolved["event"], resolved["title"]) == ("resolved", "Vigil writes its series log again")
        assert runtime.series_log.stats().written == 1
        assert (await client.get("/readyz")).status_code == 200
