"""The heartbeat watch on a fake clock: verdicts at the deadline and on the pings that change
them, the rate bound, and keys and state that outlive a restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.engine.heartbeats import HeartbeatWatch, PingOutcome
from vigil.probes.base import Result
from vigil.probes.heartbeat import Signal
from vigil.store.database import open_database
from vigil.store.tables import HeartbeatRow, PingRow

STACK = """
services:
  worker:
    checks:
      beat: {heartbeat: {every: 1m, grace: 30s}, every: 10m}
"""


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield engine
    await engine.dispose()


class Watched:
    """A watch running on a fake clock, with the results it hands on."""

    def __init__(
        self,
        engine: AsyncEngine,
        text: str = STACK,
        clock: FakeClock | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.results: list[Result] = []
        stack = parse_stack("vigil.yaml", text, environ or {})

        async def submit(result: Result) -> None:
            self.results.append(result)

        self.watch = HeartbeatWatch(
            stack.specs(), engine, submit, self.clock, stack.redactor, retention=86400, rng=random.Random(1)
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watched:
        await self.watch.load()
        self.task = asyncio.create_task(self.watch.run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.watch.writer.flush()

    @property
    def key(self) -> str:
        return self.watch.beats["worker.beat"].key

    def verdicts(self) -> list[tuple[float, bool]]:
        start = FakeClock().now()
        return [((r.started_at - start).total_seconds(), r.ok) for r in self.results]


async def test_with_no_ping_the_check_fails_at_every_plus_grace(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        await w.clock.advance(89)
        assert all(ok for _, ok in w.verdicts())
        await w.clock.advance(1)
        assert w.verdicts()[-1] == (90.0, False)
        assert "no ping in the 1m30s" in (w.results[-1].reason or "")


async def test_a_failure_fails_at_once_and_a_success_recovers_at_once(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        await w.clock.advance(5)
        body = b"starting\nERROR: disk full\n"
        assert w.watch.ping(w.key, Signal.FAIL, exit_status=3, body=body) is PingOutcome.ACCEPTED
        await w.clock.advance(0)
        assert w.verdicts()[-1] == (5.0, False)
        assert w.results[-1].reason == (
            "the job reported a failure at 2026-01-01 00:00:05 UTC: exit status 3: ERROR: disk full"
        )
        await w.clock.advance(2)
        w.watch.ping(w.key, Signal.SUCCESS)
        await w.clock.advance(0)
        assert w.verdicts()[-1] == (7.0, True)


async def test_start_then_success_keeps_the_runs_duration(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        w.watch.ping(w.key, Signal.START)
        await w.clock.advance(12)
        w.watch.ping(w.key, Signal.SUCCESS)
        await w.clock.advance(0)
        assert w.results[-1].ok
        assert w.results[-1].values["run_seconds"] == 12.0


async def test_a_start_brings_the_deadline_to_its_grace(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        w.watch.ping(w.key, Signal.SUCCESS)
        await w.clock.advance(10)
        w.watch.ping(w.key, Signal.START)
        await w.clock.advance(30)
        assert w.verdicts()[-1] == (40.0, False)
        assert "no success within the grace of 30s" in (w.results[-1].reason or "")


async def test_an_unknown_key_is_refused_and_nothing_is_stored(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        assert w.watch.ping("x" * 24, Signal.SUCCESS) is PingOutcome.UNKNOWN
    async with sqlite.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(PingRow))).scalar() == 0


async def test_a_flood_is_refused_past_the_rate_and_taken_again_a_moment_later(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        outcomes = [w.watch.ping(w.key, Signal.SUCCESS) for _ in range(25)]
        assert outcomes.count(PingOutcome.ACCEPTED) == 10
        assert outcomes[10:] == [PingOutcome.LIMITED] * 15
        await w.clock.advance(0.5)
        taken = [w.watch.ping(w.key, Signal.SUCCESS) for _ in range(6)]
        assert taken.count(PingOutcome.ACCEPTED) == 5


async def test_the_key_and_the_last_state_outlive_a_restart(engine: AsyncEngine) -> None:
    clock = FakeClock()
    async with Watched(engine, clock=clock) as first:
        key = first.key
        first.watch.ping(key, Signal.START)
        await clock.advance(3)
        first.watch.ping(key, Signal.SUCCESS, body=b"done")
    async with Watched(engine, clock=clock) as second:
        assert second.key == key
        beat = second.watch.beats["worker.beat"]
        assert beat.run_seconds == 3.0
        assert beat.last_success == clock.now()
    async with engine.connect() as conn:
        signals = (await conn.execute(select(PingRow.signal).order_by(PingRow.id))).scalars().all()
        keys = (await conn.execute(select(HeartbeatRow.key))).scalars().all()
    assert signals == ["start", "success"]
    assert keys == [key]


async def test_successes_close_together_are_stored_as_the_last_of_them(sqlite: AsyncEngine) -> None:
    async with Watched(sqlite) as w:
        for _ in range(5):
            w.watch.ping(w.key, Signal.SUCCESS)
        w.watch.ping(w.key, Signal.FAIL)
    async with sqlite.connect() as conn:
        signals = (await conn.execute(select(PingRow.signal).order_by(PingRow.id))).scalars().all()
    assert signals == ["success", "fail"]


async def test_a_posted_log_is_kept_redacted_in_the_store_and_the_reason(sqlite: AsyncEngine) -> None:
    text = STACK + "env:\n  PGPASSWORD: ${PGPASSWORD}\n"
    async with Watched(sqlite, text, environ={"PGPASSWORD": "hunter2-password"}) as w:
        w.watch.ping(w.key, Signal.FAIL, body=b"psql -W hunter2-password: auth failed")
        await w.clock.advance(0)
        assert w.results[-1].reason is not None
        assert w.results[-1].reason.endswith(": psql -W ***: auth failed")
    async with sqlite.connect() as conn:
        assert (await conn.execute(select(PingRow.body))).scalar() == "psql -W ***: auth failed"
