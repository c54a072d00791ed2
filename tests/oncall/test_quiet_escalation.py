"""Escalation and quiet: whoever was paged hears the resolve even when a silence or maintenance
window began after their page; an incident opened while silenced pages no one, its escalation
waits at its first step, and both page when the silence ends on a still-triggered incident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from tests.notify.conftest import Receiver
from tests.oncall.conftest import START, Mailbox, escalation_stack, eventually, open_incident, running
from vigil.engine.clock import FakeClock
from vigil.notify.base import OutboxStatus
from vigil.server.runtime import Runtime
from vigil.store import outbox
from vigil.store.database import open_database


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield engine
    await engine.dispose()


async def lines(runtime: Runtime, incident: int) -> list[str]:
    return [entry.text for entry in await runtime.incidents.timeline(incident)]


def subjects(mailbox: Mailbox, to: str) -> list[str]:
    return [m.subject.split("]")[0].split()[-1] for m in mailbox.to(to)]


@pytest.mark.parametrize("quiet", ["silence", "maintenance"])
async def test_whoever_was_paged_hears_the_resolve_though_quiet_began_after_the_page(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver, quiet: str
) -> None:
    clock = FakeClock(START)
    async with running(store, escalation_stack(mailbox, receiver.url), clock) as (runtime, _):
        incident = await open_incident(runtime)
        await eventually(lambda: subjects(mailbox, "alice@example.com") == ["TRIGGERED"], "alice's page")
        await eventually(lambda: len(receiver.accepted) == 1, "the hook's page")
        if quiet == "silence":
            await runtime.quiet.silences.create(
                ["service=api"], comment="restarting", created_by="ops", duration=3600
            )
        else:
            await runtime.quiet.maintenance.start("upgrade", duration=3600, started_by="ops")
        await runtime.quiet.active()  # the quiet is read before bob's step falls due
        await clock.advance(15 * 60)  # bob's step falls due while quiet: held, not paged
        await eventually(
            lambda: _has(runtime, incident, "escalation held:"), "the escalation held by the quiet", 30.0
        )

        await runtime.incidents.resolve(incident, "ops")
        await eventually(
            lambda: subjects(mailbox, "alice@example.com") == ["TRIGGERED", "RESOLVED"], "alice's resolve"
        )
        await eventually(
            lambda: [b["event"] for _, b in receiver.accepted] == ["triggered", "resolved"], "hook"
        )
        assert mailbox.to("bob@example.com") == []  # never paged, so never told
        rows = await outbox.for_incident(store, incident)
        dropped = [r for r in rows if r.status is OutboxStatus.DROPPED]
        assert not [r for r in dropped if r.event == "resolved" and "alice" in r.channel]


async def test_an_escalation_held_by_a_silence_pages_when_the_silence_ends(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    async with running(store, escalation_stack(mailbox, receiver.url), clock) as (runtime, _):
        await runtime.quiet.silences.create(["service=api"], comment="deploy", created_by="ops", duration=600)
        incident = await open_incident(runtime)
        await eventually(lambda: _has(runtime, incident, "escalation held: silenced by #1"), "the hold")
        await clock.advance(5 * 60)
        assert mailbox.mails == [] and receiver.accepted == []
        held = [line for line in await lines(runtime, incident) if line.startswith("escalation held")]
        assert len(held) == 1  # said once, not at every look

        await clock.advance(6 * 60)  # the silence ended at 12:10
        await eventually(lambda: subjects(mailbox, "alice@example.com") == ["TRIGGERED"], "alice's page")
        await eventually(lambda: len(receiver.accepted) == 1, "the hook's page")
        text = await lines(runtime, incident)
        assert "quiet ended: the escalation goes on" in text
        assert "quiet ended: paging hook" in text
        # The wait runs from the page: bob's step is due 15 minutes after it, not after the open.
        await clock.advance(13 * 60)  # 12:24
        assert mailbox.to("bob@example.com") == []
        await clock.advance(2 * 60)
        await eventually(lambda: subjects(mailbox, "bob@example.com") == ["TRIGGERED"], "bob's page")


async def _has(runtime: Runtime, incident: int, text: str) -> bool:
    return any(text in line for line in await lines(runtime, incident))
