"""The outbox worker against real receivers and real databases: retries, expiry, isolation, leases."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import free_port
from tests.notify.conftest import Receiver, message, put
from vigil.engine.clock import FakeClock, SystemClock
from vigil.notify.base import Channel, Message, OutboxStatus
from vigil.notify.log import LogChannel
from vigil.notify.webhook import WebhookChannel
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox
from vigil.store.database import open_database
from vigil.store.outbox import OutboxEntry


class Outcomes(list[tuple[str, OutboxStatus, bool, str | None]]):
    """What the worker reported to ``on_outcome``, as the incident timeline would see it."""

    async def __call__(self, entry: OutboxEntry, delivered: bool, error: str | None) -> None:
        self.append((entry.key, entry.status, delivered, error))


@contextlib.asynccontextmanager
async def running(*workers: OutboxWorker) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for worker in workers:
            for channel in worker.channels.values():
                await channel.close()


async def until(condition: Callable[[], bool], within: float = 10.0) -> float:
    """Seconds it took for ``condition`` to hold; fails the test after ``within`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)
    return time.monotonic() - start


def hook(receiver: Receiver, name: str = "ops-hook") -> dict[str, Channel]:
    return {name: WebhookChannel(name, receiver.url)}


async def status_of(engine: AsyncEngine, key: str) -> OutboxEntry:
    entry = await outbox.get(engine, key)
    assert entry is not None
    return entry


async def test_a_page_is_delivered_once_with_its_idempotency_key(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    clock, outcomes = SystemClock(), Outcomes()
    worker = OutboxWorker(engine, hook(receiver), clock, on_outcome=outcomes)
    async with running(worker):
        await put(engine, clock, [message("incident-7-triggered-ops-hook")])
        worker.wake()
        await until(lambda: bool(outcomes))
        await until(lambda: worker.depth == 0)  # counted again on the pass the delivery wakes
    assert receiver.keys() == {"incident-7-triggered-ops-hook": 1}
    assert receiver.accepted[0][1]["reason"] == "status 503, expected 200"
    entry = await status_of(engine, "incident-7-triggered-ops-hook")
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.DELIVERED, 1, None)
    assert entry.delivered_at is not None
    assert outcomes == [("incident-7-triggered-ops-hook", OutboxStatus.DELIVERED, True, None)]
    assert worker.delivered == {"ops-hook": 1}


async def test_a_woken_worker_sends_within_milliseconds_not_on_its_next_poll(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = SystemClock()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock, poll=30.0)
    async with running(worker):
        await asyncio.sleep(0.05)  # the worker is asleep, with 30 s to go
        await put(sqlite_engine, clock, [message("k")])
        worker.wake()
        took = await until(lambda: bool(receiver.accepted), within=5.0)
    # Its poll is 30 s away: a send within 2 s was woken, with room for a busy machine.
    assert took < 2.0


async def test_a_worker_finds_rows_another_process_enqueued_within_its_poll_interval(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = SystemClock()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock, poll=0.2)
    async with running(worker):
        await asyncio.sleep(0.05)
        await put(sqlite_engine, clock, [message("k")])  # no wake: as if written elsewhere
        took = await until(lambda: bool(receiver.accepted), within=5.0)
    assert took < 1.5


async def test_a_receiver_failing_at_first_gets_the_message_exactly_once_after_backing_off(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.fail_first = 3
    clock, outcomes = FakeClock(), Outcomes()
    worker = OutboxWorker(engine, hook(receiver), clock, base_delay=2.0, on_outcome=outcomes)
    await put(engine, clock, [message("k")])
    for attempt in (1, 2, 3):
        assert await worker.run_once() == 1
        entry = await status_of(engine, "k")
        wait = (entry.next_attempt_at - clock.now()).total_seconds()
        assert entry.status is OutboxStatus.PENDING
        assert 0.9 * 2.0 * 2 ** (attempt - 1) <= wait <= 1.1 * 2.0 * 2 ** (attempt - 1)
        assert entry.last_error == f"webhook {receiver.shown} answered 500"
        assert await worker.run_once() == 0  # not due before its time
        await clock.advance(wait)
    assert await worker.run_once() == 1
    await worker.channels["ops-hook"].close()
    entry = await status_of(engine, "k")
    assert (entry.status, entry.attempts) == (OutboxStatus.DELIVERED, 4)
    assert len(receiver.requests) == 4
    assert receiver.keys() == {"k": 1}
    assert (worker.failures, worker.delivered) == ({"ops-hook": 3}, {"ops-hook": 1})
    assert [o[1:3] for o in outcomes] == [(OutboxStatus.PENDING, False)] * 3 + [
        (OutboxStatus.DELIVERED, True)
    ]
    assert outcomes[0][3] == f"webhook {receiver.shown} answered 500"


async def test_a_404_fails_the_message_for_good_and_it_is_never_tried_again(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.status = 404
    clock, outcomes = FakeClock(), Outcomes()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock, on_outcome=outcomes)
    await put(sqlite_engine, clock, [message("k")])
    await worker.run_once()
    await clock.advance(3600)
    assert await worker.run_once() == 0
    await worker.channels["ops-hook"].close()
    entry = await status_of(sqlite_engine, "k")
    assert (entry.status, entry.attempts) == (OutboxStatus.FAILED, 1)
    assert len(receiver.requests) == 1
    assert outcomes == [("k", OutboxStatus.FAILED, False, f"webhook {receiver.shown} answered 404")]


async def test_a_receiver_that_is_down_gets_the_message_once_it_is_back(sqlite_engine: AsyncEngine) -> None:
    receiver = Receiver(port=free_port())  # not listening yet: connection refused
    clock = SystemClock()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock, base_delay=0.02, max_delay=0.1)
    async with running(worker):
        await put(sqlite_engine, clock, [message("k")])
        worker.wake()
        await until(lambda: worker.failures["ops-hook"] >= 2)
        await receiver.start()
        try:
            await until(lambda: worker.delivered["ops-hook"] == 1)
        finally:
            await receiver.stop()
    entry = await status_of(sqlite_engine, "k")
    assert entry.status is OutboxStatus.DELIVERED
    assert entry.attempts == worker.failures["ops-hook"] + 1
    assert receiver.keys() == {"k": 1}


async def test_a_message_still_undelivered_at_its_expiry_is_given_up(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.status = 503
    clock, outcomes = FakeClock(), Outcomes()
    worker = OutboxWorker(engine, hook(receiver), clock, base_delay=4.0, on_outcome=outcomes)
    await put(engine, clock, [message("k")], expire_after=10.0)
    await worker.run_once()  # fails; next try ~4 s later
    await clock.advance(5)
    await worker.run_once()  # fails; next try ~8 s later, past the expiry: retried at the expiry instead
    entry = await status_of(engine, "k")
    assert entry.next_attempt_at == entry.expires_at
    await clock.advance(5)
    assert await worker.run_once() == 0
    await worker.channels["ops-hook"].close()
    entry = await status_of(engine, "k")
    assert (entry.status, entry.attempts) == (OutboxStatus.EXPIRED, 2)
    assert outcomes[-1] == (
        "k",
        OutboxStatus.EXPIRED,
        False,
        f"expired after 2 attempts; last error: webhook {receiver.shown} answered 503",
    )
    assert worker.expired == {"ops-hook": 1}


async def test_a_message_never_sent_before_its_expiry_is_not_sent_late(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = FakeClock()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock)
    await put(sqlite_engine, clock, [message("k")], expire_after=60.0)
    await clock.advance(61)
    await worker.run_once()
    await worker.channels["ops-hook"].close()
    assert (await status_of(sqlite_engine, "k")).status is OutboxStatus.EXPIRED
    assert receiver.requests == []


async def test_a_slow_channel_does_not_delay_another_channels_message(sqlite_engine: AsyncEngine) -> None:
    slow, fast = await Receiver().start(), await Receiver().start()
    slow.delay = 3.0
    clock = SystemClock()
    channels: dict[str, Channel] = {**hook(slow, "slow"), **hook(fast, "fast")}
    worker = OutboxWorker(sqlite_engine, channels, clock)
    try:
        async with running(worker):
            await put(sqlite_engine, clock, [message(f"slow-{i}", "slow") for i in range(20)])
            await put(sqlite_engine, clock, [message("fast-1", "fast")])
            worker.wake()
            took = await until(lambda: bool(fast.accepted))
            assert slow.accepted == []
    finally:
        await slow.stop()
        await fast.stop()
    assert took < 1.0


async def test_a_channel_that_takes_longer_than_the_timeout_is_retried_later(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.delay = 2.0
    clock, outcomes = FakeClock(), Outcomes()
    channels: dict[str, Channel] = {"ops-hook": WebhookChannel("ops-hook", receiver.url, timeout=30.0)}
    worker = OutboxWorker(sqlite_engine, channels, clock, timeout=0.2, on_outcome=outcomes)
    await put(sqlite_engine, clock, [message("k")])
    await worker.run_once()
    await worker.channels["ops-hook"].close()
    assert outcomes == [("k", OutboxStatus.PENDING, False, "ops-hook did not take the message within 0.2s")]


async def test_messages_for_a_channel_no_longer_configured_fail_for_good(sqlite_engine: AsyncEngine) -> None:
    clock, outcomes = FakeClock(), Outcomes()
    worker = OutboxWorker(sqlite_engine, {"ops-log": LogChannel("ops-log")}, clock, on_outcome=outcomes)
    await put(sqlite_engine, clock, [message("k", "old-pager")])
    await worker.run_once()
    entry = await status_of(sqlite_engine, "k")
    assert entry.status is OutboxStatus.FAILED
    assert (
        entry.last_error
        == "channel 'old-pager' is not configured (the stack file changed since it was queued)"
    )
    assert outcomes[0][1:3] == (OutboxStatus.FAILED, False)


class Broken:
    """A channel with a bug: it raises something that is not a ``DeliveryError``."""

    async def send(self, message: Message) -> None:
        raise KeyError("oops")

    async def close(self) -> None:
        pass


async def test_a_channel_that_raises_unexpectedly_is_retried_and_the_worker_goes_on(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = SystemClock()
    worker = OutboxWorker(sqlite_engine, {"broken": Broken(), **hook(receiver)}, clock)
    async with running(worker):
        await put(sqlite_engine, clock, [message("b", "broken"), message("k")])
        worker.wake()
        await until(lambda: bool(receiver.accepted) and worker.failures["broken"] >= 1)
    entry = await status_of(sqlite_engine, "b")
    assert (entry.status, entry.last_error) == (OutboxStatus.PENDING, "broken failed: KeyError: 'oops'")


async def test_the_log_channel_delivers_through_the_worker(
    sqlite_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    worker = OutboxWorker(sqlite_engine, {"ops-log": LogChannel("ops-log")}, clock)
    await put(sqlite_engine, clock, [message("k", "ops-log")])
    await worker.run_once()
    assert '"key": "k"' in capsys.readouterr().err
    assert (await status_of(sqlite_engine, "k")).status is OutboxStatus.DELIVERED


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_two_workers_on_one_outbox_deliver_each_message_exactly_once(
    database: str, request: pytest.FixtureRequest, tmp_path: Path, receiver: Receiver
) -> None:
    url = (
        f"sqlite:///{tmp_path}/vigil.db" if database == "sqlite" else request.getfixturevalue("postgres_url")
    )
    first, second = await open_database(url), await open_database(url)  # two instances, two pools
    receiver.delay = 0.01  # long enough for the workers' claims to overlap
    clock = SystemClock()
    workers = [OutboxWorker(engine, hook(receiver), clock, poll=0.05) for engine in (first, second)]
    keys = [f"incident-{i}-triggered-ops-hook" for i in range(50)]
    try:
        async with running(*workers):
            # One incident each: messages of one incident to one channel leave one at a time.
            for i, key in enumerate(keys):
                await put(first if i < 25 else second, clock, [message(key)], incident_id=i)
            workers[0].wake()
            workers[1].wake()
            await until(lambda: sum(w.delivered["ops-hook"] for w in workers) >= 50)
            await asyncio.sleep(0.3)  # time for any duplicate to arrive
    finally:
        await first.dispose()
        await second.dispose()
    assert receiver.keys() == dict.fromkeys(keys, 1)
    assert sum(w.delivered["ops-hook"] for w in workers) == 50
    assert all(w.delivered["ops-hook"] > 0 for w in workers)  # both took a share


def test_backoff_doubles_from_the_base_up_to_the_cap_with_ten_percent_jitter() -> None:
    worker = OutboxWorker(None, {}, FakeClock(), base_delay=1.0, max_delay=300.0, rng=random.Random(1))  # type: ignore[arg-type]
    for attempts, expected in [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (500, 300.0)]:
        delays = [worker.backoff(attempts) for _ in range(200)]
        assert min(delays) >= 0.9 * expected
        assert max(delays) <= 1.1 * expected
        assert max(delays) - min(delays) > 0.1 * expected  # jittered, so that retries spread out


def test_a_lease_shorter_than_the_send_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="lease must outlast"):
        OutboxWorker(None, {}, FakeClock(), timeout=30.0, lease=10.0)  # type: ignore[arg-type]


async def test_a_cancelled_worker_stops_at_once_and_releases_the_send_it_cut_short(
    sqlite_engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.delay = 5.0
    clock = SystemClock()
    worker = OutboxWorker(sqlite_engine, hook(receiver), clock)
    task = asyncio.create_task(worker.run())
    await put(sqlite_engine, clock, [message("k")])
    worker.wake()
    await until(lambda: bool(receiver.requests))
    started = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.channels["ops-hook"].close()
    assert time.monotonic() - started < 1.0
    entry = await status_of(sqlite_engine, "k")
    # Released rather than left leased: the next worker to look sends it at once, not in a minute.
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    assert entry.next_attempt_at <= clock.now()
    assert entry.last_error == "sending was interrupted by a shutdown"
