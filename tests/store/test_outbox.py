"""The outbox in the real store, on SQLite and on PostgreSQL: claims and leases, outcomes, expiry.

Leases run on the database's clock: a test that lets one run out waits a fraction of a second
of real time, whatever the FakeClock says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import FakeClock
from vigil.notify.base import Message, MessageEvent, OutboxStatus
from vigil.store import outbox, outbox_results


def message(key: str, channel: str = "ops-hook", event: MessageEvent = MessageEvent.TRIGGERED) -> Message:
    return Message(key, channel, event, {"title": "api.health is failing", "incident_id": 7})


async def put(
    engine: AsyncEngine,
    clock: FakeClock,
    messages: Sequence[Message],
    *,
    incident_id: int | None = None,
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
    claimed = await outbox.due(engine, clock.now(), 2, lease=0.3)
    assert [e.key for e in claimed] == ["first", "second"]
    assert all(e.attempts == 1 and e.status is OutboxStatus.PENDING for e in claimed)
    assert claimed[0].lease_token is not None and claimed[0].leased_until is not None
    assert claimed[0].message == message("first")
    assert [e.key for e in await outbox.due(engine, clock.now(), 10, lease=60)] == ["third"]
    assert await outbox.due(engine, clock.now(), 10) == []
    await asyncio.sleep(0.35)  # the short lease ran out without an outcome: the sender died
    again = await outbox.due(engine, clock.now(), 10)
    assert [(e.key, e.attempts) for e in again] == [("first", 2), ("second", 2)]
    assert again[0].lease_token != claimed[0].lease_token


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
    assert await outbox_results.mark_delivered(engine, entry, clock.now())
    assert not await outbox_results.mark_failed(engine, entry, "late failure", None)
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
    await outbox_results.mark_failed(engine, retry, "answered 503", clock.now() + timedelta(seconds=5))
    await outbox_results.mark_failed(engine, give_up, "answered 404", None)
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
    idle, sending = await outbox.due(engine, clock.now(), 10, lease=1.0)
    await outbox_results.mark_failed(engine, idle, "answered 500", clock.now() + timedelta(seconds=10))
    assert await outbox.expire(engine, clock.now() + timedelta(seconds=9)) == []
    await clock.advance(10)
    assert await outbox.due(engine, clock.now(), 10) == []  # expired rows are never sent late
    expired = await outbox.expire(engine, clock.now())
    assert [(e.key, e.status, e.last_error) for e in expired] == [
        ("idle", OutboxStatus.EXPIRED, "answered 500")
    ]
    await clock.advance(3600)  # the application's clock does not end a lease: the database's does
    assert await outbox.expire(engine, clock.now()) == []
    await asyncio.sleep(1.05)  # the sender's lease is over; it never reported back
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
        incident_id=7,
    )
    await put(engine, clock, [message("incident-8-triggered-ops-hook")], incident_id=8)
    await clock.advance(60)
    await put(engine, clock, [message("incident-7-resolved-ops-hook")], incident_id=7)
    listed = await outbox.for_incident(engine, 7)
    assert [e.key for e in listed] == [
        "incident-7-triggered-ops-hook",
        "incident-7-triggered-chat",
        "incident-7-resolved-ops-hook",
    ]
    assert all(e.incident_id == 7 and e.created_at.tzinfo is not None for e in listed)
    assert await outbox.for_incident(engine, 99) == []


async def test_a_lease_ends_on_the_databases_clock_not_the_applications(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("a")])
    [claimed] = await outbox.due(engine, clock.now(), 10, lease=60)
    # A clock stepped forward, or another instance whose clock runs ahead: the lease still holds.
    assert await outbox.due(engine, clock.now() + timedelta(hours=1), 10) == []
    assert await outbox.next_due(engine) is None
    assert await outbox_results.mark_delivered(engine, claimed, clock.now())


async def test_a_worker_whose_lease_was_taken_over_changes_nothing(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("a")])
    [first] = await outbox.due(engine, clock.now(), 10, lease=0.2)
    await asyncio.sleep(0.25)
    [second] = await outbox.due(engine, clock.now(), 10, lease=60)
    assert not await outbox_results.mark_failed(
        engine, first, "timed out", clock.now() + timedelta(seconds=5)
    )
    assert not await outbox_results.mark_delivered(engine, first, clock.now())
    stored = await outbox.get(engine, "a")
    assert stored is not None
    assert (stored.status, stored.last_error, stored.lease_token) == (
        OutboxStatus.PENDING,
        None,
        second.lease_token,
    )
    assert await outbox_results.mark_delivered(engine, second, clock.now())
    stored = await outbox.get(engine, "a")
    assert stored is not None
    assert (stored.status, stored.leased_until, stored.lease_token) == (OutboxStatus.DELIVERED, None, None)


async def test_rows_the_caller_has_in_flight_are_never_claimed_whatever_their_lease(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("a"), message("b")])
    flying, _ = await outbox.due(engine, clock.now(), 10, lease=0.1)
    await asyncio.sleep(0.15)
    claimed = await outbox.due(engine, clock.now(), 10, exclude=[flying.id])
    assert [e.key for e in claimed] == ["b"]
    assert await outbox.expire(engine, clock.now() + timedelta(days=2), exclude=[flying.id]) == []


async def test_an_incidents_messages_to_a_channel_are_claimed_one_at_a_time_in_order(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("7-triggered"), message("7-triggered-chat", "chat")], incident_id=7)
    await put(engine, clock, [message("8-triggered")], incident_id=8)
    await put(engine, clock, [message("7-resolved", event=MessageEvent.RESOLVED)], incident_id=7)
    await put(engine, clock, [message("loose-1"), message("loose-2")])  # no incident: no order
    claimed = await outbox.due(engine, clock.now(), 10)
    assert [e.key for e in claimed] == [
        "7-triggered",
        "7-triggered-chat",
        "8-triggered",
        "loose-1",
        "loose-2",
    ]
    trigger = claimed[0]
    # The trigger waits out its backoff: the resolve queued behind it waits too.
    await outbox_results.mark_failed(engine, trigger, "answered 503", clock.now() + timedelta(seconds=30))
    await clock.advance(10)
    assert await outbox.due(engine, clock.now(), 10) == []
    assert await outbox.next_due(engine) == clock.now() + timedelta(seconds=20)
    await clock.advance(20)
    [again] = await outbox.due(engine, clock.now(), 10)
    assert again.key == "7-triggered"
    assert await outbox.due(engine, clock.now(), 10) == []  # not while the trigger is in flight
    await outbox_results.mark_delivered(engine, again, clock.now())
    assert [e.key for e in await outbox.due(engine, clock.now(), 10)] == ["7-resolved"]
