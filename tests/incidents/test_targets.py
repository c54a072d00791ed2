"""Missed response targets, on SQLite and PostgreSQL with the fake clock: a target that passes is
recorded once — a timeline line at the moment it passed, the API's ``targets.missed``, the
store's count behind ``/metrics`` — also after a restart and when an acknowledge comes late."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import TimelineEntry
from vigil.incidents.service import IncidentService
from vigil.incidents.targets import TargetWatch

STACK = """
severities:
  P1: {acknowledge: 15m, resolve: 1h}
services: {}
"""


@pytest.fixture
def stack() -> Stack:
    return parse_stack("vigil.yaml", STACK, {})


def missed_lines(timeline: list[TimelineEntry]) -> list[tuple[str, str]]:
    return [(e.at.isoformat(), e.text) for e in timeline if str(e.kind) == "target_missed"]


async def test_a_passed_acknowledge_target_is_recorded_once_at_the_moment_it_passed(
    incidents: IncidentService, clock: FakeClock
) -> None:
    watch = TargetWatch(incidents, clock)
    incident = await incidents.open_manual("API down", "P1", "ana")
    await clock.advance(14 * 60)
    assert await watch.once() == []
    await clock.advance(2 * 60)
    assert await watch.once() == [(incident.id, "acknowledge", "P1")]
    assert await watch.once() == []
    due = incident.opened_at + timedelta(minutes=15)
    assert missed_lines(await incidents.timeline(incident.id)) == [
        (due.isoformat(), "acknowledge target missed: not acknowledged within 15m (P1)")
    ]
    got = (await incidents.get(incident.id)).as_dict()["targets"]
    assert got == {
        "acknowledge_by": due.isoformat(),
        "resolve_by": (incident.opened_at + timedelta(hours=1)).isoformat(),
        "missed": ["acknowledge"],
    }
    assert watch.counts == {("P1", "acknowledge"): 1}


async def test_after_a_restart_a_miss_is_not_recorded_again_and_the_count_is_kept(
    engine: AsyncEngine, stack: Stack, clock: FakeClock
) -> None:
    first = IncidentService(engine, stack.model, clock)
    incident = await first.open_manual("API down", "P1", "ana")
    await clock.advance(61 * 60)
    assert len(await TargetWatch(first, clock).once()) == 2  # acknowledge and resolve
    # A new process on the same store: nothing new, the same count.
    again = IncidentService(engine, stack.model, clock)
    watch = TargetWatch(again, clock)
    assert await watch.once() == []
    assert watch.counts == {("P1", "acknowledge"): 1, ("P1", "resolve"): 1}
    assert len(missed_lines(await again.timeline(incident.id))) == 2
    await again.acknowledge(incident.id, "ana")
    await again.resolve(incident.id, "ana")
    assert len(missed_lines(await again.timeline(incident.id))) == 2


async def test_an_acknowledge_that_comes_late_records_the_miss_itself(
    incidents: IncidentService, clock: FakeClock
) -> None:
    incident = await incidents.open_manual("API down", "P1", "ana")
    await clock.advance(20 * 60)
    acknowledged = await incidents.acknowledge(incident.id, "ana")  # no watch ran meanwhile
    assert [text for _, text in missed_lines(await incidents.timeline(incident.id))] == [
        "acknowledge target missed: not acknowledged within 15m (P1)"
    ]
    assert (await incidents.get(acknowledged.id)).missed == ("acknowledge",)
    assert await TargetWatch(incidents, clock).once() == []


async def test_an_incident_handled_within_its_targets_misses_nothing(
    incidents: IncidentService, clock: FakeClock
) -> None:
    watch = TargetWatch(incidents, clock)
    incident = await incidents.open_manual("API down", "P1", "ana")
    await clock.advance(5 * 60)
    await incidents.acknowledge(incident.id, "ana")
    await clock.advance(20 * 60)
    assert await watch.once() == []
    await incidents.mitigate(incident.id, "ana")
    await incidents.resolve(incident.id, "ana")
    await clock.advance(3600)
    assert await watch.once() == []
    assert (await incidents.get(incident.id)).missed == ()
