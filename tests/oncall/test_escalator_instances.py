"""Two Vigil instances over one store page each escalation step once: both look at the same
due escalations at the same moment, one conditional update wins each, the other pages nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.oncall.conftest import START, Mailbox, escalation_stack
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.oncall.escalator import Escalator
from vigil.oncall.service import OnCall
from vigil.store.database import open_database
from vigil.store.tables import IncidentEventRow, OutboxRow

INCIDENTS = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/vigil.db"
    return str(request.getfixturevalue("postgres_url"))


async def test_two_instances_page_each_step_once(url: str) -> None:
    stack = parse_stack("vigil.yaml", escalation_stack(Mailbox(), "http://127.0.0.1:9/hook"), {})
    clock = FakeClock(START)
    engines = [await open_database(url), await open_database(url)]
    try:
        services = [IncidentService(e, stack.model, clock) for e in engines]
        escalators = [
            Escalator(e, s, OnCall(stack), clock, batch=7) for e, s in zip(engines, services, strict=True)
        ]
        for n in range(INCIDENTS):
            await services[n % 2].open(
                key=f"check:api.c{n}",
                title=f"c{n} is failing",
                severity=Severity.P1,
                service="api",
                check_id=None,
                reason="down",
                channels=[],
                trigger="down",
            )
        for step, person in enumerate(("alice", "bob", "carol")):
            if step:
                await clock.advance(15 * 60)
            handled = await asyncio.gather(*(e.run_once() for e in escalators))
            assert sum(handled) >= INCIDENTS
            async with engines[0].connect() as conn:
                pages = await conn.execute(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.channel.startswith(f"person:{person}/"))
                )
                lines = await conn.execute(
                    select(func.count())
                    .select_from(IncidentEventRow)
                    .where(IncidentEventRow.text.startswith(f"paged {person} "))
                )
                assert (pages.scalar_one(), lines.scalar_one()) == (INCIDENTS, INCIDENTS)
        assert sum(e.pages_sent for e in escalators) == 3 * INCIDENTS
    finally:
        for engine in engines:
            await engine.dispose()
