"""Held pages and follow-ups without a trigger, in the real store on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.store.test_outbox import message, put
from vigil.engine.clock import FakeClock
from vigil.notify.base import MessageEvent, OutboxStatus
from vigil.store import outbox, outbox_gate, outbox_results
from vigil.store.tables import IncidentRow


async def incident(engine: AsyncEngine, clock: FakeClock) -> int:
    row = {
        "key": "check:api.health",
        "title": "api.health is failing",
        "status": "triggered",
        "severity": "P1",
        "service": "api",
        "channels": ["ops-hook"],
        "opened_at": clock.now(),
        "respond_by": clock.now(),
    }
    async with engine.begin() as conn:
        return int(
            (await conn.execute(insert(IncidentRow).values(row).returning(IncidentRow.id))).scalar_one()
        )


async def resolve(engine: AsyncEngine, incident_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status="resolved"))


async def status(engine: AsyncEngine, key: str) -> tuple[OutboxStatus, int, str | None]:
    entry = await outbox.get(engine, key)
    assert entry is not None
    return entry.status, entry.attempts, entry.last_error


async def test_a_held_trigger_waits_uncounted_and_is_due_at_once_when_released(engine: AsyncEngine) -> None:
    clock = FakeClock()
    incident_id = await incident(engine, clock)
    await put(engine, clock, [message("t")], incident_id=incident_id, expire_after=600)
    await put(engine, clock, [message("r", event=MessageEvent.RESOLVED)], incident_id=incident_id)
    [claimed] = await outbox.due(engine, clock.now(), 10)
    assert await outbox_gate.hold(engine, claimed, "silenced until 12:00")
    assert await status(engine, "t") == (OutboxStatus.HELD, 0, "silenced until 12:00")
    assert await outbox.depth(engine) == 1  # the resolve; held pages are not waiting to be sent
    # Nothing after a held trigger leaves, and a follow-up behind it is not dropped.
    assert await outbox.due(engine, clock.now(), 10) == []
    assert await outbox_gate.drop_follow_ups_without_trigger(engine) == []
    await clock.advance(3600)  # a silence longer than the page's expiry
    [held] = await outbox_gate.held(engine)
    released = await outbox_gate.release(engine, held, clock.now())
    assert released is not None
    assert (released.status, released.next_attempt_at) == (OutboxStatus.PENDING, clock.now())
    assert released.expires_at == clock.now() + timedelta(seconds=600)
    assert await outbox_gate.release(engine, held, clock.now()) is None  # released once
    assert [e.key for e in await outbox.due(engine, clock.now(), 10)] == ["t"]


async def test_a_held_trigger_of_a_resolved_incident_is_dropped_and_so_is_its_resolve(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    incident_id = await incident(engine, clock)
    await put(engine, clock, [message("t")], incident_id=incident_id)
    [claimed] = await outbox.due(engine, clock.now(), 10)
    await outbox_gate.hold(engine, claimed, "in maintenance window db-upgrade")
    assert await outbox_gate.drop_resolved(engine) == []  # still open: kept
    await resolve(engine, incident_id)
    await put(engine, clock, [message("r", event=MessageEvent.RESOLVED)], incident_id=incident_id)
    assert [e.key for e in await outbox_gate.drop_resolved(engine)] == ["t"]
    assert [e.key for e in await outbox_gate.drop_follow_ups_without_trigger(engine)] == ["r"]
    assert await status(engine, "t") == (OutboxStatus.DROPPED, 0, outbox_gate.RESOLVED_WHILE_HELD)
    assert await status(engine, "r") == (
        OutboxStatus.DROPPED,
        0,
        "the trigger was never sent to this channel",
    )
    assert await outbox.depth(engine) == 0


async def test_a_follow_up_goes_only_to_a_channel_that_got_the_trigger(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("t-hook"), message("t-chat", "chat")], incident_id=7)
    ack = MessageEvent.ACKNOWLEDGED
    await put(
        engine, clock, [message("a-hook", event=ack), message("a-chat", "chat", event=ack)], incident_id=7
    )
    hook, chat = await outbox.due(engine, clock.now(), 10)
    assert await outbox_gate.drop_follow_ups_without_trigger(engine) == []  # triggers still pending
    await outbox_results.mark_delivered(engine, hook, clock.now())
    await outbox_results.mark_failed(engine, chat, "answered 404", None)
    assert [e.key for e in await outbox_gate.drop_follow_ups_without_trigger(engine)] == ["a-chat"]
    assert [e.key for e in await outbox.due(engine, clock.now(), 10)] == ["a-hook"]


async def test_a_follow_up_whose_trigger_was_never_sent_is_not_claimed(engine: AsyncEngine) -> None:
    clock = FakeClock()
    await put(engine, clock, [message("r", event=MessageEvent.RESOLVED)], incident_id=7)
    assert await outbox.due(engine, clock.now(), 10) == []
    assert await outbox.next_due(engine) is None
