"""The backup watch on a fake clock: a new job is pending until its schedule's moment, runs then,
its check passes with the backup's values, fails the moment the newest verified backup is older
than the rpo, and each run is recorded in the store."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from vigil.backups.jobs import jobs_of
from vigil.backups.service import run_job
from vigil.config.load import parse_stack
from vigil.engine.backups import BackupWatch
from vigil.engine.clock import FakeClock
from vigil.probes.base import Result
from vigil.store.backup_runs import BackupRuns
from vigil.store.database import open_database
from vigil.store.tables import BackupRunRow

STACK = """
backups:
  appdb:
    engine: sqlite
    source: app.db
    schedule: "0 2 * * *"
    destination: backups/appdb
    keep: {count: 3}
    rpo: 1h
"""


async def until(results: list[Result], count: int) -> None:
    for _ in range(400):  # the backup itself runs in a thread, on real time
        if len(results) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{len(results)} results, waited for {count}")


async def test_a_job_runs_on_schedule_passes_then_goes_stale_past_its_rpo(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    (tmp_path / "vigil.yaml").write_text(STACK)
    stack = parse_stack(str(tmp_path / "vigil.yaml"), STACK, {})
    store = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    clock = FakeClock(datetime(2026, 3, 1, 1, 59, 30, tzinfo=UTC))
    results: list[Result] = []

    async def submit(result: Result) -> None:
        results.append(result)

    watch = BackupWatch(
        list(jobs_of(stack).values()), submit, clock, stack.redactor, BackupRuns(store).record
    )
    task = asyncio.create_task(watch.run())
    try:
        await clock.advance(29)
        await asyncio.sleep(0.1)
        assert results == []  # no backup yet, none due: pending, not "no verified backup yet"
        await clock.advance(1)  # 02:00: the backup runs, is verified, and the check passes
        await until(results, 1)
        assert (results[0].check_id, results[0].ok) == ("backups.appdb", True), results[0].reason
        assert results[0].values["recovery_point_seconds"] == 0
        assert results[0].values["size_bytes"] > 0
        for minute in range(60):  # a minute at a time, as the watch judges
            await clock.advance(60)
            await until(results, 2 + minute)
        assert results[-1].ok, "03:00:00: exactly as old as the rpo allows"
        await clock.advance(0.1)  # just past the rpo: judged then, not at the next minute
        await until(results, 62)
        assert results[-1].ok is False
        assert results[-1].reason is not None and results[-1].reason.startswith(
            "the newest verified backup is 1h old (taken 2026-03-01 02:00:00 UTC); rpo 1h"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with store.connect() as conn:
        rows = (await conn.execute(select(BackupRunRow.action, BackupRunRow.ok))).all()
    await store.dispose()
    assert sorted(tuple(r) for r in rows) == [("backup", True), ("verify", True)]


async def test_a_backup_asked_for_goes_stale_at_its_rpo_not_at_the_next_judging(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    text = STACK.replace("rpo: 1h", "rpo: 10s")
    stack = parse_stack(str(tmp_path / "vigil.yaml"), text, {})
    clock = FakeClock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    results: list[Result] = []

    async def submit(result: Result) -> None:
        results.append(result)

    async def no_record(outcome: object) -> None:
        return None

    [job] = jobs_of(stack).values()
    watch = BackupWatch([job], submit, clock, stack.redactor, no_record)
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(0.1)  # no backup yet: the watch waits for its schedule
        assert (await watch.run_now(job)).ok
        await until(results, 2)  # judged by the ask, then by the loop it woke
        await clock.advance(9)
        assert all(r.ok for r in results)
        await clock.advance(1.1)  # 10.1 s after the backup, long before a minute has passed
        await until(results, 3)
        assert results[-1].ok is False and "rpo 10s" in str(results[-1].reason), results[-1]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_job_whose_backups_are_gone_is_judged_at_once_not_pending(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    stack = parse_stack(str(tmp_path / "vigil.yaml"), STACK, {})
    store = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    runs = BackupRuns(store)
    [job] = jobs_of(stack).values()
    clock = FakeClock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    results: list[Result] = []

    async def submit(result: Result) -> None:
        results.append(result)

    assert (await run_job(job, stack.redactor, record=runs.record)).ok
    for artefact in job.destination.iterdir():  # the folder emptied while Vigil was down
        artefact.unlink()
    task = asyncio.create_task(BackupWatch([job], submit, clock, stack.redactor, runs.record, runs.ran).run())
    try:
        await until(results, 1)
        assert (results[0].ok, results[0].reason) == (False, "no verified backup yet")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.dispose()
