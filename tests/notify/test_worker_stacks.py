"""Two stack files over one store: each one's worker sends only the pages its stack queued (and
those of no stack), through its own channels, even where both name a channel alike."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Receiver, message, put
from tests.notify.test_worker import hook, running, status_of, until
from vigil.engine.clock import SystemClock
from vigil.notify.base import OutboxStatus
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox


async def test_each_stack_sends_its_own_pages_to_its_own_receiver_and_a_page_of_no_stack_once(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    other = await Receiver().start()
    clock = SystemClock()
    # Both stack files have a channel "ops-hook", each to its own team's receiver.
    payments = OutboxWorker(engine, hook(receiver), clock, stack="/srv/payments.yaml")
    search = OutboxWorker(engine, hook(other), clock, stack="search")
    try:
        await put(engine, clock, [message("pay-1-ops-hook")], incident_id=1, stack="/srv/payments.yaml")
        await put(engine, clock, [message("search-2-ops-hook")], incident_id=2, stack="search")
        await put(engine, clock, [message("shell-3-ops-hook")], incident_id=3)  # from the shell
        async with running(payments, search):
            await until(lambda: sum(len(r.accepted) for r in (receiver, other)) >= 3)
            await until(lambda: payments.depth == search.depth == 0)
    finally:
        await other.stop()
    shell = Counter({"shell-3-ops-hook": 1})
    assert receiver.keys() - shell == {"pay-1-ops-hook": 1}
    assert other.keys() - shell == {"search-2-ops-hook": 1}
    assert receiver.keys()["shell-3-ops-hook"] + other.keys()["shell-3-ops-hook"] == 1
    for key, stack in [("pay-1-ops-hook", "/srv/payments.yaml"), ("search-2-ops-hook", "search")]:
        entry = await status_of(engine, key)
        assert (entry.status, entry.stack) == (OutboxStatus.DELIVERED, stack)


async def test_a_page_to_a_channel_only_the_other_stack_has_waits_for_that_stack(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    clock = SystemClock()
    payments = OutboxWorker(engine, hook(receiver), clock, stack="payments")
    await put(engine, clock, [message("search-1-search-hook", "search-hook")], stack="search")
    try:
        assert await payments.run_once() == 0
    finally:
        for channel in payments.channels.values():
            await channel.close()
    entry = await status_of(engine, "search-1-search-hook")
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.PENDING, 0, None)
    # Nor does it keep the payments worker awake, count as its backlog, or expire under it.
    assert await outbox.next_due(engine, stack="payments") is None
    assert await outbox.depth(engine, "payments") == 0
    assert await outbox.expire(engine, entry.expires_at, stack="payments") == []
    assert await outbox.next_due(engine, stack="search") is not None
