"""What the worker lets out, against real receivers and databases: an incident's messages to a
channel in order, triggers held while quiet, and follow-ups only after a trigger."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import Receiver, message, put
from tests.notify.test_worker import hook, status_of
from tests.store.test_outbox_gate import incident, resolve
from vigil.engine.clock import FakeClock
from vigil.notify.base import MessageEvent, OutboxStatus
from vigil.notify.worker import OutboxWorker
from vigil.store import outbox
from vigil.store.outbox import OutboxEntry


class Quiet:
    """``hold`` as the incident side gives it: a reason while a silence matches the labels."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.asked: list[dict[str, str]] = []
        self.told: list[tuple[str, OutboxStatus, str | None]] = []

    async def hold(self, entry: OutboxEntry) -> str | None:
        self.asked.append(dict(entry.payload["labels"]))
        return self.reason

    async def on_hold(self, entry: OutboxEntry, reason: str | None) -> None:
        self.told.append((entry.key, entry.status, reason))


async def put_labelled(
    engine: AsyncEngine, clock: FakeClock, key: str, incident_id: int, event: MessageEvent
) -> None:
    plain = message(key, event=event)
    await put(
        engine,
        clock,
        [replace(plain, payload={**plain.payload, "labels": {"service": "api"}})],
        incident_id=incident_id,
    )


def events(requests: list[tuple[dict[str, str], dict[str, object]]]) -> list[object]:
    return [body["event"] for _, body in requests]


async def test_a_resolve_queued_while_the_trigger_backs_off_is_delivered_after_it(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    clock = FakeClock()
    worker = OutboxWorker(engine, hook(receiver), clock, base_delay=2.0)
    await put(engine, clock, [message("t")])
    assert await worker.run_once() == 1  # answered 500: retried in about 2 s
    await put(engine, clock, [message("r", event=MessageEvent.RESOLVED)])
    assert await worker.run_once() == 0  # the resolve waits behind its trigger
    await clock.advance(3)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 1
    await worker.channels["ops-hook"].close()
    assert events(receiver.requests) == ["triggered", "triggered", "resolved"]
    assert events(receiver.accepted) == ["triggered", "resolved"]


async def test_a_trigger_is_held_while_quiet_and_delivered_once_quiet_ends(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    clock, quiet = FakeClock(), Quiet()
    worker = OutboxWorker(engine, hook(receiver), clock, poll=1.0, hold=quiet.hold, on_hold=quiet.on_hold)
    incident_id = await incident(engine, clock)
    quiet.reason = "silenced until 12:00 by ana: db upgrade"
    await put_labelled(engine, clock, "t", incident_id, MessageEvent.TRIGGERED)
    await worker.run_once()
    held = await status_of(engine, "t")
    assert (held.status, held.attempts, held.last_error) == (OutboxStatus.HELD, 0, quiet.reason)
    assert await outbox.depth(engine) == 0  # held pages are not waiting to be sent
    await clock.advance(1)
    await worker.run_once()  # judged again: still quiet
    assert quiet.told == [("t", OutboxStatus.HELD, quiet.reason)]
    assert quiet.asked == [{"service": "api"}] * 2
    assert receiver.requests == []
    quiet.reason = None
    await clock.advance(1)
    await worker.run_once()
    await worker.channels["ops-hook"].close()
    assert quiet.told[1:] == [("t", OutboxStatus.PENDING, None)]
    assert receiver.keys() == {"t": 1}
    sent = await status_of(engine, "t")
    assert (sent.status, sent.attempts) == (OutboxStatus.DELIVERED, 1)


async def test_a_held_trigger_of_a_resolved_incident_is_dropped_and_its_resolve_too(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    clock, quiet = FakeClock(), Quiet()
    worker = OutboxWorker(engine, hook(receiver), clock, poll=1.0, hold=quiet.hold, on_hold=quiet.on_hold)
    incident_id = await incident(engine, clock)
    quiet.reason = "in maintenance window db-upgrade"
    await put_labelled(engine, clock, "t", incident_id, MessageEvent.TRIGGERED)
    await worker.run_once()
    await resolve(engine, incident_id)
    await put_labelled(engine, clock, "r", incident_id, MessageEvent.RESOLVED)
    quiet.reason = None  # the window ended, but too late: the incident is over
    await clock.advance(1)
    assert await worker.run_once() == 0
    await worker.channels["ops-hook"].close()
    assert receiver.requests == []
    assert [(e.key, e.status) for e in await outbox.for_incident(engine, incident_id)] == [
        ("t", OutboxStatus.DROPPED),
        ("r", OutboxStatus.DROPPED),
    ]
    assert (await status_of(engine, "r")).last_error == "the trigger was never sent to this channel"
    assert quiet.told == [("t", OutboxStatus.HELD, "in maintenance window db-upgrade")]


async def test_a_resolve_is_not_sent_to_a_channel_the_trigger_never_reached(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.status = 404
    clock = FakeClock()
    worker = OutboxWorker(engine, hook(receiver), clock)
    await put(engine, clock, [message("t")])
    await worker.run_once()  # fails for good
    await put(engine, clock, [message("r", event=MessageEvent.RESOLVED)])
    assert await worker.run_once() == 0
    await worker.channels["ops-hook"].close()
    assert events(receiver.requests) == ["triggered"]
    assert (await status_of(engine, "r")).status is OutboxStatus.DROPPED
