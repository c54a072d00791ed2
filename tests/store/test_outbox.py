"""The outbox in the real store, on SQLite and on PostgreSQL: claims and leases, outcomes, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import FakeClock
from vigil.notify.base import Message, MessageEvent, OutboxStatus
from vigil.store import outbox


def message(key: str, channel: str = "ops-hook") -> Message:
    return Message(key, channel, MessageEvent.TRIGGERED, {"title": "api.health is failing", "incident_id": 7})


async def put(
    engine: AsyncEngine,
    clock: FakeClock,
    messages: Sequence[Message],
    *,
    incident_id: int | None = 7,
    expire_after: float = 3600.0,
) -> int:
    async with engine.begin() as conn:
        return await outbox.enqueue(
            conn,
            messages,
            now=clock.now(),
            expire_after={m.channel: expire_after for m in messages},
            incident_id=incident_id,
        )


async def test_enqueueing_a_key_twice_keeps_one_message(engine: AsyncEngine) -> None:
    clock = FakeClock()
    assert await put(engine, clock, [message("a"), message("b")]) == 2
    assert await put(engine, clock, [message("a"), message("c")]) == 1
    assert await outbox.depth(engine) == 3


async def test_due_rows_are_claimed_oldest_first_and_leased_so_they_are_not_claimed_again(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    for key in ("first", "second", "third"):
        await put(engine, clock, [message(key)])
        await clock.advance(1)
    claimed = await outbox.due(engine, clock.now(), 2, lease=60)
    assert [e.key for e in claimed] == ["first", "second"]
    assert all(e.attempts == 1 and e.status is OutboxStatus.PENDING for e in claimed)
    assert claimed[0].next_attempt_at == clock.now() + timedelta(seconds=60)
    assert claimed[0].message == message("first")
    assert [e.key for e in await outbox.due(engine, clock.now(), 10, lease=60)] == ["third"]
    assert await outbox.due(engine, clock.now(), 10) == []
    await clock.advance(61)  # the lease ran out without an outcome: the sender died
    again = await outbox.due(engine, clock.now(), 10)
    assert [(e.key, e.attempts) for e in again] == [("first", 2), ("second", 2), ("third", 2)]


async def test_due_can_be_limited_to_some_channels_or_leave_some_out(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("a", "ops-hook"), message("b", "chat"), message("c", "ops-log")])
    assert [e.key for e in await outbox.due(engine, clock.now(), 10, channels=["chat"])] == ["b"]
    assert [e.key for e in await outbox.due(engine, clock.now(), 10, skip_channels={"ops-hook"})] == ["c"]
    assert [e.key for e in await outbox.due(engine, clock.now(), 10)] == ["a"]


async def test_concurrent_claims_never_hand_out_the_same_row_twice(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message(f"m{i}") for i in range(60)])
    batches = await asyncio.gather(*(outbox.due(engine, clock.now(), 7) for _ in range(12)))
    keys = [e.key for batch in batches for e in batch]
    assert sorted(keys) == sorted(f"m{i}" for i in range(60))


async def test_a_delivered_message_is_final(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("a")])
    [entry] = await outbox.due(engine, clock.now(), 10)
    assert await outbox.mark_delivered(engine, entry, clock.now())
    assert not await outbox.mark_failed(engine, entry, "late failure", None)
    stored = await outbox.get(engine, "a")
    assert stored is not None
    assert (stored.status, stored.delivered_at, stored.last_error) == (
        OutboxStatus.DELIVERED,
        clock.now(),
        None,
    )
    assert await outbox.depth(engine) == 0
    assert await outbox.next_due(engine) is None


async def test_a_failed_attempt_is_retried_at_its_time_unless_it_failed_for_good(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("retry"), message("give-up")])
    retry, give_up = await outbox.due(engine, clock.now(), 10)
    await outbox.mark_failed(engine, retry, "answered 503", clock.now() + timedelta(seconds=5))
    await outbox.mark_failed(engine, give_up, "answered 404", None)
    assert await outbox.next_due(engine) == clock.now() + timedelta(seconds=5)
    assert await outbox.due(engine, clock.now(), 10) == []
    await clock.advance(5)
    [again] = await outbox.due(engine, clock.now(), 10)
    assert (again.key, again.attempts, again.last_error) == ("retry", 2, "answered 503")
    failed = await outbox.get(engine, "give-up")
    assert failed is not None
    assert (failed.status, failed.last_error) == (OutboxStatus.FAILED, "answered 404")


async def test_pending_messages_past_their_expiry_expire_but_not_while_being_sent(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("idle"), message("sending")], expire_after=10)
    idle, sending = await outbox.due(engine, clock.now(), 10, lease=60)
    await outbox.mark_failed(engine, idle, "answered 500", clock.now() + timedelta(seconds=10))
    assert await outbox.expire(engine, clock.now() + timedelta(seconds=9)) == []
    await clock.advance(10)
    assert await outbox.due(engine, clock.now(), 10) == []  # expired rows are never sent late
    expired = await outbox.expire(engine, clock.now())
    assert [(e.key, e.status, e.last_error) for e in expired] == [
        ("idle", OutboxStatus.EXPIRED, "answered 500")
    ]
    await clock.advance(60)  # the sender's lease is over; it never reported back
    assert [e.key for e in await outbox.expire(engine, clock.now())] == [sending.key]
    assert await outbox.depth(engine) == 0


async def test_depth_counts_pending_messages_and_next_due_is_the_earliest(engine: AsyncEngine) -> None:
    clock = FakeClock()
    assert (await outbox.depth(engine), await outbox.next_due(engine)) == (0, None)
    start = clock.now()
    await put(engine, clock, [message("a")])
    await clock.advance(30)
    await put(engine, clock, [message("b", "chat")])
    assert await outbox.depth(engine) == 2
    assert await outbox.next_due(engine) == start
    assert await outbox.next_due(engine, skip_channels=["ops-hook"]) == clock.now()


async def test_an_incidents_messages_are_listed_in_the_order_they_were_queued(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(
        engine,
        clock,
        [message("incident-7-triggered-ops-hook"), message("incident-7-triggered-chat", "chat")],
    )
    await put(engine, clock, [message("incident-8-triggered-ops-hook")], incident_id=8)
    await clock.advance(60)
    await put(engine, clock, [message("incident-7-resolved-ops-hook")])
    listed = await outbox.for_incident(engine, 7)
    assert [e.key for e in listed] == [
        "incident-7-triggered-ops-hook",
        "incident-7-triggered-chat",
        "incident-7-resolved-ops-hook",
    ]
    assert all(e.incident_id == 7 and e.created_at.tzinfo is not None for e in listed)
    assert await outbox.for_incident(engine, 99) == []
