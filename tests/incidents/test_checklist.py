"""The severity's checklist on an incident: ticks by number or text, on the timeline, once each;
the checklist follows the severity, and ticking stays possible after the incident is resolved."""

from __future__ import annotations

import asyncio

import pytest

from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, InputError
from vigil.incidents.checklist import ChecklistItem
from vigil.incidents.service import IncidentService

STACK = """
severities:
  P1: {checklist: [Page the lead, Open a bridge, Post in status channel]}
  P3: {checklist: [Look into it]}
services: {}
"""


@pytest.fixture
def stack() -> Stack:
    return parse_stack("vigil.yaml", STACK, {})


def shown(items: list[ChecklistItem]) -> list[tuple[int, str, str | None]]:
    return [(i.number, i.text, i.done_by) for i in items]


async def test_items_are_ticked_by_number_or_text_and_each_tick_is_on_the_timeline(
    incidents: IncidentService, clock: FakeClock
) -> None:
    incident = await incidents.open_manual("Checkout down", "P1", "ana")
    await incidents.tick(incident.id, "ana", "2")
    items = await incidents.tick(incident.id, "bob", "post in STATUS channel")
    assert shown(items) == [
        (1, "Page the lead", None),
        (2, "Open a bridge", "ana"),
        (3, "Post in status channel", "bob"),
    ]
    assert items[1].done_at == clock.now()
    await incidents.tick(incident.id, "ana", "Open a bridge", done=False)
    timeline = [(str(e.kind), e.text, e.actor) for e in await incidents.timeline(incident.id)][1:]
    assert timeline == [
        ("checklist", "ticked 'Open a bridge'", "ana"),
        ("checklist", "ticked 'Post in status channel'", "bob"),
        ("checklist", "unticked 'Open a bridge'", "ana"),
    ]
    assert [i.as_dict()["done"] for i in await incidents.checklist(incident.id)] == [False, False, True]


async def test_ticking_twice_or_unticking_what_is_not_ticked_is_a_conflict(
    incidents: IncidentService,
) -> None:
    incident = await incidents.open_manual("Checkout down", "P1", "ana")
    outcomes = await asyncio.gather(
        incidents.tick(incident.id, "ana", "1"),
        incidents.tick(incident.id, "bob", "1"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "list"]
    with pytest.raises(ConflictError, match="'Open a bridge' is not ticked already"):
        await incidents.tick(incident.id, "ana", "2", done=False)
    kinds = [str(e.kind) for e in await incidents.timeline(incident.id)]
    assert kinds.count("checklist") == 1


async def test_an_item_the_checklist_lacks_is_refused_with_the_items_it_has(
    incidents: IncidentService,
) -> None:
    incident = await incidents.open_manual("Checkout down", "P1", "ana")
    with pytest.raises(InputError) as err:
        await incidents.tick(incident.id, "ana", "9")
    assert str(err.value) == (
        f"no checklist item '9' on incident {incident.id}; its P1 checklist has: "
        "1. Page the lead; 2. Open a bridge; 3. Post in status channel"
    )


async def test_the_checklist_follows_the_severity_and_keeps_what_was_ticked(
    incidents: IncidentService,
) -> None:
    incident = await incidents.open_manual("Slow pages", "P3", "ana")
    await incidents.tick(incident.id, "ana", "Look into it")
    await incidents.set_severity(incident.id, "ana", "P1")
    items = await incidents.checklist(incident.id)
    assert [(i.text, i.done) for i in items] == [
        ("Page the lead", False),
        ("Open a bridge", False),
        ("Post in status channel", False),
        ("Look into it", True),
    ]
    # After the incident is over, the post-mortem item can still be ticked.
    await incidents.resolve(incident.id, "ana")
    assert (await incidents.tick(incident.id, "ana", "1"))[0].done
