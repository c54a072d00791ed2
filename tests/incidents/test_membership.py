"""Who is on a service's shared incident is kept as rows, on SQLite and PostgreSQL: written with
the join line, read back without the timeline, carried over by a merge, and neither forgotten
nor noted twice across a restart."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.check_incidents import any_member, join, members
from vigil.incidents.gone import resolve_gone
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.service import IncidentService
from vigil.probes.base import Result
from vigil.store.tables import IncidentMemberRow

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
  default: [hook]
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1}}
      live: {http: "http://127.0.0.1:9/live", alert: {after: 1}}
      ready: {http: "http://127.0.0.1:9/ready", alert: {after: 1}}
  web:
    checks:
      home: {http: "http://127.0.0.1:9/home", alert: {after: 1}}
"""
STACK_FILE = parse_stack("vigil.yaml", STACK, {})
SPECS = {spec.id: spec for spec in STACK_FILE.specs()}


def service(engine: AsyncEngine, clock: FakeClock) -> IncidentService:
    return IncidentService(engine, STACK_FILE.model, clock)


async def fail(incidents: IncidentService, check_id: str) -> None:
    spec = SPECS[check_id]
    result = Result(check_id, False, 1.0, incidents.clock.now(), "HTTP 503")
    await incidents.open_for_check(spec, result, 1)


async def merged_groups(incidents: IncidentService, *failing: str) -> tuple[Incident, Incident]:
    """``failing`` fail, opening the api and web groups; web's is merged into api's."""
    for check_id in failing:
        await fail(incidents, check_id)
    api = await incidents.open_with_key("check-group:api")
    web = await incidents.open_with_key("check-group:web")
    assert api is not None and web is not None
    await incidents.merge(web.id, api.id, "ana")
    return api, web


async def lines(incidents: IncidentService, incident_id: int) -> list[str]:
    return [e.text for e in await incidents.timeline(incident_id)]


async def test_the_opener_and_each_check_that_joins_are_rows_written_with_the_join_line(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    incidents = service(engine, clock)
    for check_id in ("api.health", "api.live", "api.ready", "api.live"):
        await fail(incidents, check_id)
        await clock.advance(1)
    [incident] = await incidents.list()
    assert await members(incidents, incident) == ["api.health", "api.live", "api.ready"]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(IncidentMemberRow.check_id, IncidentMemberRow.joined_at))).all()
    assert sorted(r.check_id for r in rows) == ["api.health", "api.live", "api.ready"]
    joined = [line for line in await lines(incidents, incident.id) if " also failing " in line]
    assert joined == [
        "api.live also failing (1 time in a row): HTTP 503",
        "api.ready also failing (1 time in a row): HTTP 503",
    ]
    assert await any_member(incidents, "check-group:api", ["web.home", "api.ready"])
    assert not await any_member(incidents, "check-group:api", ["web.home"])


async def test_a_timeline_line_that_looks_like_a_join_makes_no_member(engine: AsyncEngine) -> None:
    incidents = service(engine, FakeClock())
    await fail(incidents, "api.health")
    [incident] = await incidents.list()
    # A responder's note, worded as a join line: people's text is not membership.
    await incidents.note_key("check-group:api", EventKind.NOTE, "api.live also failing (2 times in a row): x")
    assert await members(incidents, incident) == ["api.health"]
    await fail(incidents, "api.live")  # so it joins, and its own line is written
    texts = await lines(incidents, incident.id)
    assert texts.count("api.live also failing (1 time in a row): HTTP 503") == 1
    assert await members(incidents, incident) == ["api.health", "api.live"]


async def test_a_restart_neither_forgets_a_member_nor_notes_it_twice(engine: AsyncEngine) -> None:
    clock = FakeClock()
    first = service(engine, clock)
    await fail(first, "api.health")
    await fail(first, "api.live")
    [incident] = await first.list()
    before = await lines(first, incident.id)

    again = service(engine, clock)  # a new process over the same store: nothing in memory
    key = "check-group:api"
    result = Result("api.live", False, 1.0, clock.now(), "HTTP 503")
    assert await join(again, key, SPECS["api.live"], result, 2)  # on it: True, and nothing written
    assert await join(again, key, SPECS["api.health"], result, 2)  # its opener: the same
    assert await lines(again, incident.id) == before
    assert await members(again, incident) == ["api.health", "api.live"]


async def test_a_merge_puts_the_duplicates_members_on_the_survivor_once(engine: AsyncEngine) -> None:
    incidents = service(engine, FakeClock())
    api, web = await merged_groups(incidents, "api.health", "api.live", "web.home")
    assert await members(incidents, api) == ["api.health", "api.live", "web.home"]
    assert await members(incidents, web) == ["web.home"]  # the duplicate keeps its own history
    # web.home fails on: its key routes to the survivor, where it is a member already.
    before = await lines(incidents, api.id)
    await fail(incidents, "web.home")
    assert await lines(incidents, api.id) == before
    # Merged twice over (api into a third): every member arrives, none twice.
    third = await incidents.open_manual("Checkout is down", "P2", "ana")
    await incidents.merge(api.id, third.id, "ana")
    assert await members(incidents, third) == ["api.health", "api.live", "web.home"]


async def test_at_start_a_merged_services_checks_are_on_the_survivor_not_gone(engine: AsyncEngine) -> None:
    incidents = service(engine, FakeClock())
    api, _ = await merged_groups(incidents, "api.health", "web.home")
    # web.home is still in the stack file and its key routes to the survivor: nothing is gone.
    assert await resolve_gone(incidents, STACK_FILE) == []
    without_web = parse_stack("vigil.yaml", STACK.split("  web:", maxsplit=1)[0], {})
    [resolved] = await resolve_gone(incidents, without_web)
    assert resolved.id == api.id
    assert "resolved at start: check web.home is no longer in vigil.yaml" in await lines(incidents, api.id)
