"""The worker writes the outcomes of sends that finish together in one transaction, and still
sends each page once: an outcome the store refuses is kept and written later, and one not yet
written when the process is killed (``kill -9``) leaves the row claimed, to be sent again under
the same idempotency key."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.notify.conftest import Receiver, message, put
from tests.notify.test_worker import hook, running, status_of, until
from vigil.engine.clock import FakeClock, SystemClock
from vigil.engine.supervisor import Stage, StageStatus
from vigil.notify.base import Channel, OutboxStatus
from vigil.notify.webhook import WebhookChannel
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox_results
from vigil.store.database import open_database
from vigil.store.outbox_results import Outcome


async def test_a_burst_of_sends_is_recorded_in_a_few_transactions_each_page_once(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = FakeClock()
    names = ["hook-a", "hook-b", "hook-c"]
    channels: dict[str, Channel] = {name: WebhookChannel(name, receiver.url) for name in names}
    worker = OutboxWorker(engine, channels, clock, per_channel=20)
    worker.results.linger = 0.05  # generous, so that a loaded machine still gathers the burst
    await put(
        engine, clock, [message(f"{name}-{n}", name) for name in names for n in range(20)], incident_id=None
    )
    try:
        assert await worker.run_once() == 60
    finally:
        for channel in channels.values():
            await channel.close()
    assert set(receiver.keys().values()) == {1} and len(receiver.keys()) == 60
    assert sum(worker.delivered.values()) == 60
    assert worker.results.flushes <= 6  # sixty outcomes, a handful of commits
    for name in names:
        assert (await status_of(engine, f"{name}-19")).status is OutboxStatus.DELIVERED


async def test_an_outcome_the_store_refuses_at_first_is_kept_and_the_page_is_not_sent_again(
    sqlite_engine: AsyncEngine, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SystemClock()
    stage = Stage("outbox", clock, lambda text: text)
    worker = OutboxWorker(
        sqlite_engine, hook(receiver), clock, poll=0.05, timeout=1.0, lease=3.0, stage=stage
    )
    refused: list[int] = []

    async def refusing_once(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> list[bool]:
        if not refused:
            refused.append(len(outcomes))
            raise OperationalError("UPDATE outbox", None, Exception("database is locked"))
        return await outbox_results.record(conn, outcomes)

    worker.results.write = refusing_once
    with caplog.at_level(logging.ERROR, logger="vigil.supervisor"):
        async with running(worker):
            await put(sqlite_engine, clock, [message("k")])
            worker.wake()
            await until(lambda: worker.delivered["ops-hook"] == 1)
            await until(lambda: stage.status is StageStatus.OK)  # the next pass finds it well again
            await asyncio.sleep(0.2)  # passes go on: nothing is due, nothing is sent again
    assert refused == [1]
    assert receiver.keys() == {"k": 1}
    entry = await status_of(sqlite_engine, "k")
    assert (entry.status, entry.attempts, entry.lease_token) == (OutboxStatus.DELIVERED, 1, None)
    assert [r.getMessage() for r in caplog.records] == [
        "outbox failing: cannot write outbox results: OperationalError: database is locked"
    ]


KILLED_WORKER = """
import asyncio, sys
from vigil.engine.clock import SystemClock
from vigil.notify.webhook import WebhookChannel
from vigil.notify.worker import OutboxWorker
from vigil.store.database import open_database

async def main() -> None:
    engine = await open_database(sys.argv[1])
    worker = OutboxWorker(engine, {"ops-hook": WebhookChannel("ops-hook", sys.argv[2])}, SystemClock(),
                          timeout=1.0, lease=1.5)
    worker.results.linger = 3600.0  # the outcome waits to be written: the process dies first
    await worker.run_once()

asyncio.run(main())
"""


async def test_a_worker_killed_before_its_outcome_is_written_leaves_the_page_to_be_sent_again_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    url = f"sqlite:///{tmp_path}/vigil.db"
    engine = await open_database(url)
    clock = SystemClock()
    await put(engine, clock, [message("k")])
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(KILLED_WORKER), url, receiver.url
    )
    try:
        await until(lambda: bool(receiver.accepted), within=20.0)
    finally:
        worker.kill()  # SIGKILL: no shutdown, no release, the outcome never written
        await worker.wait()
    sent = await status_of(engine, "k")
    assert (sent.status, sent.attempts, sent.lease_token is not None) == (OutboxStatus.PENDING, 1, True)
    again = OutboxWorker(engine, hook(receiver), clock, timeout=1.0, lease=1.5)
    try:
        await asyncio.sleep(1.6)  # the dead worker's lease runs out on the database's clock
        assert await again.run_once() == 1
        done = await status_of(engine, "k")
        assert (done.status, done.attempts) == (OutboxStatus.DELIVERED, 2)
    finally:
        await again.channels["ops-hook"].close()
        await engine.dispose()
    # At least once, under one key: the receiver that drops repeated keys shows the page once.
    assert receiver.keys() == {"k": 2}
    [(first, _), (second, _)] = receiver.accepted
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == "k"
