"""A page is sent once while its send may still run: leases on the database's clock, rows in
flight never claimed again, and an Apprise call that timed out never repeated while it runs on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Receiver, message, put
from tests.notify.test_worker import hook, running, status_of, until
from vigil.engine.clock import FakeClock, SystemClock
from vigil.notify.apprise import AppriseChannel
from vigil.notify.base import Channel, OutboxStatus
from vigil.notify.worker import OutboxWorker
from vigil.store.database import open_database
from vigil.store.tables import OutboxRow


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_second_instance_whose_clock_runs_15s_ahead_does_not_send_a_slow_page_again(
    database: str, request: pytest.FixtureRequest, tmp_path: Path, receiver: Receiver
) -> None:
    url = (
        f"sqlite:///{tmp_path}/vigil.db" if database == "sqlite" else request.getfixturevalue("postgres_url")
    )
    first, second = await open_database(url), await open_database(url)  # two instances, two pools
    receiver.delay = 0.6  # slow, but within the send timeout
    behind, ahead = FakeClock(), FakeClock()
    await ahead.advance(15)
    workers = [
        OutboxWorker(
            engine, hook(receiver), clock, timeout=1.0, lease=5.0
        )  # outlasts a send and its write under load
        for engine, clock in ((first, behind), (second, ahead))
    ]
    try:
        await put(first, behind, [message("k")])
        sending = asyncio.create_task(workers[0].run_once())
        await until(lambda: bool(receiver.requests))
        assert await workers[1].run_once() == 0  # leased, by the database's clock
        await sending
        assert await workers[1].run_once() == 0  # delivered
        assert (await status_of(first, "k")).status is OutboxStatus.DELIVERED
    finally:
        for worker in workers:
            await worker.channels["ops-hook"].close()
        await first.dispose()
        await second.dispose()
    assert len(receiver.requests) == 1


async def test_a_worker_never_claims_a_row_it_has_in_flight_even_when_its_lease_ended(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.delay = 0.8
    clock = SystemClock()
    worker = OutboxWorker(engine, hook(receiver), clock, poll=0.02, timeout=5.0, lease=10.0)
    async with running(worker):
        await put(engine, clock, [message("k")])
        worker.wake()
        await until(lambda: bool(receiver.requests))
        # The database's clock stepped forward: the lease is over while the send still runs.
        async with engine.begin() as conn:
            await conn.execute(update(OutboxRow).values(leased_until=0.0))
        worker.wake()
        await until(lambda: worker.delivered["ops-hook"] == 1)
    assert len(receiver.requests) == 1
    entry = await status_of(engine, "k")
    assert (entry.status, entry.attempts) == (OutboxStatus.DELIVERED, 1)


async def test_an_apprise_send_that_timed_out_but_delivered_is_not_sent_again(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.delay, receiver.delay_first = 1.0, 1  # the first request outlasts the worker's timeout
    clock = SystemClock()
    channels: dict[str, Channel] = {
        "chat": AppriseChannel("chat", f"json://127.0.0.1:{receiver.port}/hook", timeout=5.0)
    }
    worker = OutboxWorker(
        sqlite_engine, channels, clock, timeout=0.3, lease=1.0, base_delay=0.05, max_delay=0.1, poll=0.05
    )
    async with running(worker):
        await put(sqlite_engine, clock, [message("k", "chat")])
        worker.wake()
        await until(lambda: worker.delivered["chat"] == 1)
        await asyncio.sleep(0.3)  # time for a second copy to arrive
    assert worker.failures["chat"] >= 1  # it did time out, and was retried
    assert len(receiver.requests) == 1
    entry = await status_of(sqlite_engine, "k")
    assert entry.status is OutboxStatus.DELIVERED


async def test_an_apprise_send_that_timed_out_and_failed_is_sent_anew(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.delay, receiver.delay_first = 0.6, 1
    receiver.fail_first, receiver.fail_with = 1, 503
    clock = FakeClock()
    channels: dict[str, Channel] = {
        "chat": AppriseChannel("chat", f"json://127.0.0.1:{receiver.port}/hook", timeout=5.0)
    }
    worker = OutboxWorker(sqlite_engine, channels, clock, timeout=0.2, lease=1.0, base_delay=1.0)
    await put(sqlite_engine, clock, [message("k", "chat")])
    await worker.run_once()  # timed out; the call runs on
    await until(lambda: bool(receiver.requests))
    await asyncio.sleep(0.7)  # and fails
    await clock.advance(2)
    await worker.run_once()  # sees the earlier call failed, sends again
    await channels["chat"].close()
    assert len(receiver.requests) == 2
    assert len(receiver.accepted) == 1
    assert (await status_of(sqlite_engine, "k")).status is OutboxStatus.DELIVERED
