"""The incident lifecycle on a real store: one open incident per check, transitions, pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, NotFoundError
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.probes.base import Result
from vigil.store.identity import store_id
from vigil.store.tables import OutboxRow


def failing(clock: FakeClock, check_id: str = "api.health") -> Result:
    return Result(check_id, False, 5.0, clock.now(), "status 500, expected 200")


def passing(clock: FakeClock, check_id: str = "api.health") -> Result:
    return Result(check_id, True, 5.0, clock.now())


async def outbox(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow).order_by(OutboxRow.id))).all()
    return [(r.channel, r.event, r.key) for r in rows]


async def test_opening_an_incident_records_the_reason_and_pages_the_default_channels(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    spec = stack.specs()[0]
    incident = await incidents.open_for_check(spec, failing(clock), 3)
    assert incident is not None
    assert (incident.status, incident.severity, incident.check, incident.service) == (
        IncidentStatus.TRIGGERED,
        Severity.P1,
        "api.health",
        "api",
    )
    assert incident.respond_by - incident.opened_at == timedelta(minutes=15)
    timeline = await incidents.timeline(incident.id)
    assert [(e.kind, e.text) for e in timeline] == [
        (EventKind.TRIGGERED, "api.health failed 3 times in a row: status 500, expected 200")
    ]
    async with engine.connect() as conn:
        store = await store_id(conn)
    assert await outbox(engine) == [
        ("hook", "triggered", f"incident-{store}-{incident.id}-triggered-hook"),
        ("log", "triggered", f"incident-{store}-{incident.id}-triggered-log"),
    ]


async def test_a_check_that_stays_down_never_opens_a_second_incident(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    spec = stack.specs()[0]
    first = await incidents.open_for_check(spec, failing(clock), 3)
    second = await incidents.open_for_check(spec, failing(clock), 4)
    assert first is not None
    assert second is None
    assert len(await incidents.list()) == 1


async def test_recovery_resolves_and_sends_the_resolved_notice_to_the_channels_that_were_paged(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await incidents.open_for_check(stack.specs()[0], failing(clock), 3)
    assert incident is not None
    await clock.advance(90)
    resolved = await incidents.recover_check("api.health", passing(clock))
    assert resolved is not None
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolved_by == "vigil"
    kinds = [e.kind for e in await incidents.timeline(incident.id)]
    assert kinds == [EventKind.TRIGGERED, EventKind.RECOVERED, EventKind.RESOLVED]
    events = [(channel, event) for channel, event, _ in await outbox(engine)]
    assert events.count(("hook", "resolved")) == 1
    assert events.count(("log", "resolved")) == 1


async def test_a_severity_response_target_can_be_overridden_in_the_stack_file(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    manual = stack.specs()[2]
    incident = await incidents.open_for_check(manual, failing(clock, manual.id), 1)
    assert incident is not None
    assert incident.respond_by - incident.opened_at == timedelta(minutes=30)
    assert incident.channels == ["log"]


async def test_acknowledge_then_resolve_by_a_responder_with_a_closing_note(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await incidents.open_for_check(stack.specs()[0], failing(clock), 3)
    assert incident is not None
    acked = await incidents.acknowledge(incident.id, "alice")
    assert (acked.status, acked.acknowledged_by) == (IncidentStatus.ACKNOWLEDGED, "alice")
    with pytest.raises(ConflictError, match="only a triggered one can be acknowledged"):
        await incidents.acknowledge(incident.id, "bob")
    await incidents.add_note(incident.id, "alice", "restarted the worker")
    done = await incidents.resolve(incident.id, "alice", "root cause: OOM")
    assert done.status is IncidentStatus.RESOLVED
    with pytest.raises(ConflictError, match="already resolved"):
        await incidents.resolve(incident.id, "alice")
    timeline = [(e.kind, e.text, e.actor) for e in await incidents.timeline(incident.id)]
    assert timeline[1:] == [
        (EventKind.ACKNOWLEDGED, "acknowledged by alice", "alice"),
        (EventKind.NOTE, "restarted the worker", "alice"),
        (EventKind.NOTE, "root cause: OOM", "alice"),
        (EventKind.RESOLVED, "resolved by alice", "alice"),
    ]
    events = [event for _, event, _ in await outbox(engine)]
    assert events.count("acknowledged") == 2


async def test_unknown_incidents_are_not_found(incidents: IncidentService) -> None:
    with pytest.raises(NotFoundError, match="no incident 999"):
        await incidents.get(999)
    with pytest.raises(NotFoundError):
        await incidents.acknowledge(999, "alice")


async def test_listing_puts_open_incidents_first_and_filters(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    health, _, manual = stack.specs()
    first = await incidents.open_for_check(health, failing(clock), 3)
    await clock.advance(10)
    second = await incidents.open_for_check(manual, failing(clock, manual.id), 1)
    assert first and second
    await incidents.resolve(second.id, "alice")
    assert [i.id for i in await incidents.list()] == [first.id, second.id]
    assert [i.id for i in await incidents.list(status=[IncidentStatus.RESOLVED])] == [second.id]
    assert [i.id for i in await incidents.list(severity=Severity.P1)] == [first.id]
    assert await incidents.open_count() == 1


async def test_a_silenced_check_opens_a_visible_incident_that_pages_no_one(
    stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    from vigil.alerting.quiet import QuietRules
    from vigil.config.maintenance import MaintenanceSettings

    quiet = QuietRules(engine, MaintenanceSettings(), clock)
    silence = await quiet.silences.create(
        ["service=api"], comment="deploy", created_by="alice", duration=3600
    )
    incidents = IncidentService(engine, stack.model, clock, quiet=quiet)
    incident = await incidents.open_for_check(stack.specs()[0], failing(clock), 3)
    assert incident is not None
    timeline = [(e.kind, e.text) for e in await incidents.timeline(incident.id)]
    assert timeline[1][0] is EventKind.SUPPRESSED
    assert timeline[1][1].startswith(f"not paged: silenced by #{silence.id} (deploy")
    # The trigger is queued for the incident's channels with the labels quiet is judged by:
    # the outbox holds it while the silence lasts and sends it if the incident outlives it.
    assert incident.channels == ["hook", "log"]
    async with engine.connect() as conn:
        payloads = (await conn.execute(select(OutboxRow.payload).order_by(OutboxRow.id))).scalars().all()
    assert [p["labels"]["service"] for p in payloads] == ["api", "api"]
    assert payloads[0]["labels"]["check"] == "api.health"


async def test_a_maintenance_window_keeps_matching_checks_from_paging_and_others_page(
    stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    from vigil.alerting.quiet import QuietRules
    from vigil.config.maintenance import MaintenanceSettings

    # FakeClock starts on Thursday 2026-01-01 00:00 UTC: a daily midnight window is on.
    settings = MaintenanceSettings.model_validate(
        {
            "windows": [
                {
                    "name": "nightly",
                    "cron": "0 0 * * *",
                    "duration": "2h",
                    "timezone": "UTC",
                    "matchers": {"check": "api.health"},
                }
            ]
        }
    )
    quiet = QuietRules(engine, settings, clock)
    incidents = IncidentService(engine, stack.model, clock, quiet=quiet)
    await clock.advance(600)
    silent = await incidents.open_for_check(stack.specs()[0], failing(clock, "api.health"), 3)
    paged = await incidents.open_for_check(stack.specs()[2], failing(clock, "api.manual"), 1)
    assert silent and paged
    assert paged.channels == ["log"]
    texts = [e.text for e in await incidents.timeline(silent.id)]
    assert texts[1] == "not paged: maintenance window nightly (until 02:00 UTC)"
    assert [e.kind for e in await incidents.timeline(paged.id)] == [EventKind.TRIGGERED]
