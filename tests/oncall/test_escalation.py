"""Escalation at runtime, through a real SMTP server and a real webhook receiver, on a fake
clock: primary → secondary → manager while nobody acknowledges; an acknowledgement stops it;
a restart in the middle goes on where it was without paging anyone twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from tests.notify.conftest import Receiver
from tests.oncall.conftest import (
    START,
    Mailbox,
    escalation_stack,
    eventually,
    open_incident,
    running,
    timeline,
)
from vigil.engine.clock import FakeClock
from vigil.store.database import open_database

MINUTES = 60.0
WHO = ("alice@example.com", "bob@example.com", "carol@example.com")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield engine
    await engine.dispose()


def counts(mailbox: Mailbox, subject: str = "TRIGGERED") -> tuple[int, ...]:
    return tuple(len([m for m in mailbox.to(who) if subject in m.subject]) for who in WHO)


async def test_nobody_acknowledges_primary_then_secondary_then_manager_then_it_ends(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    async with running(store, escalation_stack(mailbox, receiver.url), clock) as (runtime, client):
        incident = await open_incident(runtime)
        await eventually(lambda: counts(mailbox) == (1, 0, 0), "the primary's page")
        first = mailbox.to("alice@example.com")[0]
        assert first.subject == "[P1 TRIGGERED] api.health is failing"
        assert first.ack_link is not None and first.ack_link.startswith("http://vigil.test/ack/vga_")
        await eventually(lambda: receiver.accepted, "the incident's own channel")

        await clock.advance(15 * MINUTES)
        await eventually(lambda: counts(mailbox) == (1, 1, 0), "the secondary's page")
        await clock.advance(15 * MINUTES)
        await eventually(lambda: counts(mailbox) == (1, 1, 1), "the manager's page")
        listed = (await client.get("/api/v1/incidents", headers=await viewer(runtime))).json()
        assert listed[0]["escalation"]["policy"] == "default"
        assert (listed[0]["escalation"]["step"], listed[0]["escalation"]["steps"]) == (3, 3)
        assert listed[0]["escalation"]["next_page_at"] == "2026-01-07T12:45:00+00:00"

        await clock.advance(15 * MINUTES)
        lines = await eventually(
            lambda: _lines_with(runtime, incident, "escalation stopped"), "the policy's end"
        )
        assert lines == ["escalation stopped: policy default ended: nobody acknowledged after 1 round"]
        await eventually(lambda: _lines_with(runtime, incident, "sent to carol"), "carol's delivery line")
        assert counts(mailbox) == (1, 1, 1)
        text = await timeline(runtime, incident)
        assert (
            "paged alice (schedule primary) via mailto://… (step 1 of 3, round 1 of 1, policy default)"
            in text
        )
        assert (
            "paged bob (schedule secondary) via mailto://… (step 2 of 3, round 1 of 1, policy default)"
            in text
        )
        assert "paged carol via mailto://… (step 3 of 3, round 1 of 1, policy default)" in text
        assert "triggered sent to alice via mailto://…" in text
        assert not [line for line in text if str(mailbox.port) in line]  # no URL on the timeline


async def test_repeat_pages_the_policy_again_from_the_first_step(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    async with running(store, escalation_stack(mailbox, receiver.url, repeat=1), clock) as (runtime, _):
        await open_incident(runtime)
        await eventually(lambda: counts(mailbox) == (1, 0, 0), "the primary's page")
        for expected in ((1, 1, 0), (1, 1, 1), (2, 1, 1), (2, 2, 1), (2, 2, 2)):
            await clock.advance(15 * MINUTES)
            await eventually(lambda e=expected: counts(mailbox) == e, f"pages {expected}")  # type: ignore[misc]


async def test_acknowledging_stops_the_escalation_and_tells_everyone_paged(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    async with running(store, escalation_stack(mailbox, receiver.url), clock) as (runtime, client):
        incident = await open_incident(runtime)
        await eventually(lambda: counts(mailbox) == (1, 0, 0), "the primary's page")
        await clock.advance(15 * MINUTES)
        await eventually(lambda: counts(mailbox) == (1, 1, 0), "the secondary's page")

        await runtime.incidents.acknowledge(incident, "bob")
        await eventually(lambda: counts(mailbox, "ACKNOWLEDGED") == (1, 1, 0), "the acknowledged notices")
        await clock.advance(20 * MINUTES)  # past 12:30, when the manager's step was due
        await eventually(
            lambda: _lines_with(runtime, incident, "acknowledged sent to hook"), "the hook's notice"
        )
        assert counts(mailbox) == (1, 1, 0)  # carol, the manager, never paged
        listed = (await client.get("/api/v1/incidents", headers=await viewer(runtime))).json()
        assert listed[0]["escalation"]["stopped"] == "acknowledged by bob"
        assert listed[0]["escalation"]["next_page_at"] is None


async def test_a_restart_in_the_middle_goes_on_without_paging_anyone_twice(
    store: AsyncEngine, mailbox: Mailbox, receiver: Receiver
) -> None:
    clock = FakeClock(START)
    stack = escalation_stack(mailbox, receiver.url)
    async with running(store, stack, clock) as (runtime, _):
        incident = await open_incident(runtime)
        await eventually(lambda: counts(mailbox) == (1, 0, 0), "the primary's page")
        await clock.advance(15 * MINUTES)
        await eventually(lambda: counts(mailbox) == (1, 1, 0), "the secondary's page")
        await eventually(lambda: _lines_with(runtime, incident, "sent to bob"), "bob's delivery line")
    await clock.advance(5 * MINUTES)  # down for five minutes, in the middle of the wait
    async with running(store, stack, clock) as (runtime, _):
        await clock.advance(1)
        await eventually(lambda: _lines_with(runtime, incident, "sent to hook"), "a pass of the new runtime")
        assert counts(mailbox) == (1, 1, 0)
        await clock.advance(9 * MINUTES)  # 12:29:01: the manager's step is due at 12:30
        assert counts(mailbox) == (1, 1, 0)
        await clock.advance(1 * MINUTES)
        await eventually(lambda: counts(mailbox) == (1, 1, 1), "the manager's page after the restart")
    assert len(receiver.keys()) == 1 and max(receiver.keys().values()) == 1


async def _lines_with(runtime: object, incident: int, text: str) -> list[str]:
    from vigil.server.runtime import Runtime

    assert isinstance(runtime, Runtime)
    return [line for line in await timeline(runtime, incident) if text in line]


async def viewer(runtime: object) -> dict[str, str]:
    from vigil.server.runtime import Runtime
    from vigil.server.tokens import Role, create_token

    assert isinstance(runtime, Runtime)
    token = await create_token(runtime.engine, runtime.clock, "tests", Role.VIEWER)
    return {"Authorization": f"Bearer {token}"}
