"""The lifecycle past acknowledge on a real store (SQLite and PostgreSQL): triggered →
acknowledged → mitigated → resolved, reopen, assignee and commander, severity changes, incidents
opened by hand; every transition the state does not allow is a ConflictError (409) that changes
nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, InputError
from vigil.incidents.lifecycle import Role
from vigil.incidents.model import EventKind, Incident
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.probes.base import Result
from vigil.store.tables import OutboxRow

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
  default: [hook]
severities:
  P4: {pages: false}
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1, severity: P2}}
"""


@pytest.fixture
def stack() -> Stack:
    return parse_stack("vigil.yaml", STACK, {})


async def opened(incidents: IncidentService, stack: Stack, clock: FakeClock) -> Incident:
    result = Result("api.health", False, 5.0, clock.now(), "status 500, expected 200")
    incident = await incidents.open_for_check(stack.specs()[0], result, 1)
    assert incident is not None
    return incident


async def lines(incidents: IncidentService, incident_id: int) -> list[tuple[str, str, str | None]]:
    return [(str(e.kind), e.text, e.actor) for e in await incidents.timeline(incident_id)]


async def outbox(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.event, OutboxRow.key).order_by(OutboxRow.id))).all()
    return [(event, key.split("-", 2)[2]) for event, key in rows]  # without the store's id


async def test_an_incident_goes_from_triggered_through_acknowledged_and_mitigated_to_resolved(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    await incidents.acknowledge(incident.id, "ana")
    await clock.advance(60)
    mitigated = await incidents.mitigate(incident.id, "ana", "rolled back the deploy")
    assert mitigated.status is IncidentStatus.MITIGATED
    assert (mitigated.mitigated_by, mitigated.mitigated_at) == ("ana", clock.now())
    assert mitigated.acknowledged_by == "ana"
    resolved = await incidents.resolve(mitigated.id, "ana")
    assert resolved.status is IncidentStatus.RESOLVED
    assert [kind for kind, _, _ in await lines(incidents, incident.id)] == [
        "triggered",
        "acknowledged",
        "note",
        "mitigated",
        "resolved",
    ]


async def test_mitigating_a_triggered_incident_acknowledges_it_too(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    mitigated = await incidents.mitigate(incident.id, "bob")
    assert (mitigated.status, mitigated.acknowledged_by, mitigated.acknowledged_at) == (
        IncidentStatus.MITIGATED,
        "bob",
        clock.now(),
    )


@pytest.mark.parametrize(
    ("steps", "refused", "message"),
    [
        (["resolve"], "acknowledge", "incident 1 is resolved; only a triggered one can be acknowledged"),
        (["resolve"], "resolve", "incident 1 is already resolved"),
        (["resolve"], "mitigate", "incident 1 is resolved; only an open incident can be mitigated"),
        (["mitigate"], "mitigate", "incident 1 is mitigated already"),
        (["mitigate"], "acknowledge", "incident 1 is mitigated; only a triggered one can be acknowledged"),
        ([], "reopen", "incident 1 is triggered; only a resolved incident can be reopened"),
        (["resolve"], "assign", "incident 1 is resolved; only an open incident can be given an assignee"),
        (
            ["resolve"],
            "severity",
            "incident 1 is resolved; only an open incident can be given another severity",
        ),
    ],
)
async def test_a_transition_the_state_does_not_allow_is_a_conflict_that_changes_nothing(
    steps: list[str],
    refused: str,
    message: str,
    incidents: IncidentService,
    stack: Stack,
    clock: FakeClock,
    engine: AsyncEngine,
) -> None:
    incident = await opened(incidents, stack, clock)
    do = {
        "acknowledge": lambda: incidents.acknowledge(incident.id, "ana"),
        "resolve": lambda: incidents.resolve(incident.id, "ana"),
        "mitigate": lambda: incidents.mitigate(incident.id, "ana"),
        "reopen": lambda: incidents.reopen(incident.id, "ana", "still down"),
        "assign": lambda: incidents.assign(incident.id, "ana", "bob"),
        "severity": lambda: incidents.set_severity(incident.id, "ana", "P1"),
    }
    for step in steps:
        await do[step]()
    before = (await incidents.get(incident.id), await lines(incidents, incident.id), await outbox(engine))
    with pytest.raises(ConflictError) as err:
        await do[refused]()
    assert str(err.value) == message
    assert (
        await incidents.get(incident.id),
        await lines(incidents, incident.id),
        await outbox(engine),
    ) == before


async def test_two_responders_mitigating_at_once_one_wins_and_the_other_is_told(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    outcomes = await asyncio.gather(
        incidents.mitigate(incident.id, "ana"), incidents.mitigate(incident.id, "bob"), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "Incident"]
    kinds = [kind for kind, _, _ in await lines(incidents, incident.id)]
    assert kinds.count("mitigated") == 1


async def test_a_reopened_incident_is_triggered_again_pages_again_and_counts_its_targets_from_now(
    incidents: IncidentService, stack: Stack, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await opened(incidents, stack, clock)
    await incidents.acknowledge(incident.id, "ana")
    await incidents.resolve(incident.id, "ana")
    await clock.advance(3600)
    with pytest.raises(InputError):
        await incidents.reopen(incident.id, "ana", "  ")
    again = await incidents.reopen(incident.id, "bob", "errors are back")
    assert (again.status, again.reopened, again.acknowledged_at, again.resolved_at) == (
        IncidentStatus.TRIGGERED,
        1,
        None,
        None,
    )
    assert again.respond_by == clock.now() + timedelta(hours=1)  # P2's acknowledge target
    assert (await lines(incidents, incident.id))[-1] == (
        "reopened",
        "reopened by bob: errors are back",
        "bob",
    )
    assert await outbox(engine) == [
        ("triggered", f"{incident.id}-triggered-hook"),
        ("acknowledged", f"{incident.id}-acknowledged-hook"),
        ("resolved", f"{incident.id}-resolved-hook"),
        ("triggered", f"{incident.id}-r1-triggered-hook"),
    ]
    # It is open again: acknowledging works, and a second reopen needs a resolve first.
    assert (await incidents.acknowledge(incident.id, "bob")).status is IncidentStatus.ACKNOWLEDGED


async def test_reopening_is_refused_while_another_incident_is_open_for_the_same_check(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    first = await opened(incidents, stack, clock)
    await incidents.resolve(first.id, "ana")
    await opened(incidents, stack, clock)  # the check failed again: a new incident
    with pytest.raises(ConflictError, match=r"another incident is open for check-group:api"):
        await incidents.reopen(first.id, "ana", "same outage")
    assert (await incidents.get(first.id)).status is IncidentStatus.RESOLVED


async def test_the_assignee_and_the_commander_are_set_and_cleared_on_the_timeline(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    await incidents.assign(incident.id, "ana", "bob")
    await incidents.assign(incident.id, "ana", "carol", Role.COMMANDER)
    now = await incidents.get(incident.id)
    assert (now.assignee, now.commander) == ("bob", "carol")
    cleared = await incidents.assign(incident.id, "ana", None)
    assert (cleared.assignee, cleared.commander) == (None, "carol")
    assert [text for kind, text, _ in await lines(incidents, incident.id) if kind == "assigned"] == [
        "assignee bob (set by ana)",
        "incident commander carol (set by ana)",
        "assignee cleared by ana",
    ]
    with pytest.raises(InputError):
        await incidents.assign(incident.id, "ana", "x" * 201)


async def test_a_severity_change_is_on_the_timeline_and_moves_the_targets(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    assert incident.severity == "P2"
    await clock.advance(120)
    raised = await incidents.set_severity(incident.id, "ana", "p1")  # any case
    assert raised.severity == "P1"
    assert raised.respond_by == incident.opened_at + timedelta(minutes=15)
    assert raised.resolve_by == incident.opened_at + timedelta(hours=4)
    assert (await lines(incidents, incident.id))[-1] == ("severity", "severity P2 → P1 by ana", "ana")
    with pytest.raises(ConflictError, match="is P1 already"):
        await incidents.set_severity(incident.id, "ana", "P1")
    with pytest.raises(InputError, match="unknown severity 'P7'; the scheme has P1, P2, P3, P4"):
        await incidents.set_severity(incident.id, "ana", "P7")


async def test_a_level_that_does_not_page_sends_nothing_until_raised_to_one_that_does(
    incidents: IncidentService, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await incidents.open_manual("Typo on the pricing page", "P4", "ana", "api")
    assert await outbox(engine) == []
    assert (await lines(incidents, incident.id))[-1] == ("note", "not paged: P4 does not page", "vigil")
    await incidents.acknowledge(incident.id, "ana")
    assert await outbox(engine) == []  # no trigger went out, so no follow-up either
    await incidents.set_severity(incident.id, "ana", "P2")
    await incidents.resolve(incident.id, "ana")
    assert await outbox(engine) == [
        ("triggered", f"{incident.id}-triggered-hook"),
        ("resolved", f"{incident.id}-resolved-hook"),
    ]


async def test_an_incident_opened_by_hand_pages_and_carries_its_labels(
    incidents: IncidentService, clock: FakeClock, engine: AsyncEngine
) -> None:
    incident = await incidents.open_manual("Chat not responding", "P2", "ana", "api")
    assert (incident.title, incident.severity, incident.service, incident.check) == (
        "Chat not responding",
        "P2",
        "api",
        None,
    )
    assert incident.labels == {"service": "api", "source": "manual"}
    assert incident.respond_by == clock.now() + timedelta(hours=1)
    assert await lines(incidents, incident.id) == [
        ("triggered", "opened by hand by ana: Chat not responding", "vigil")
    ]
    assert await outbox(engine) == [("triggered", f"{incident.id}-triggered-hook")]
    # Two incidents by hand never share a key: both stay open.
    other = await incidents.open_manual("Chat not responding", "P2", "bob")
    assert other.id != incident.id and other.service == ""


@pytest.mark.parametrize(
    ("title", "severity", "service", "message"),
    [
        ("Down", "P7", None, "unknown severity 'P7'; the scheme has P1, P2, P3, P4"),
        ("Down", "P2", "web", "unknown service 'web'; the stack file's services are: api"),
        ("   ", "P2", None, "an incident's title needs some text"),
    ],
)
async def test_an_incident_by_hand_with_bad_input_is_refused_and_opens_nothing(
    title: str, severity: str, service: str | None, message: str, incidents: IncidentService
) -> None:
    with pytest.raises(InputError) as err:
        await incidents.open_manual(title, severity, "ana", service)
    assert str(err.value) == message
    assert await incidents.list() == []


async def test_a_check_incident_carries_its_service_check_and_kind_as_labels(
    incidents: IncidentService, stack: Stack, clock: FakeClock
) -> None:
    incident = await opened(incidents, stack, clock)
    assert (await incidents.get(incident.id)).labels == {
        "alertname": "api.health",
        "check": "api.health",
        "kind": "http",
        "service": "api",
    }
    assert (await incidents.list())[0].as_dict()["labels"]["kind"] == "http"


async def test_a_note_is_on_the_timeline(incidents: IncidentService, stack: Stack, clock: FakeClock) -> None:
    incident = await opened(incidents, stack, clock)
    entry = await incidents.add_note(incident.id, "ana", "restarted the worker")
    assert (entry.kind, entry.text, entry.actor) == (EventKind.NOTE, "restarted the worker", "ana")


async def test_oversized_input_is_refused_in_one_short_line(
    incidents: IncidentService, clock: FakeClock
) -> None:
    incident = await incidents.open_manual("Checkout down", "P1", "ana")
    await incidents.resolve(incident.id, "ana")
    for attempt in (
        lambda: incidents.reopen(incident.id, "ana", "x" * 20_000),
        lambda: incidents.tick(incident.id, "ana", "9" * 50_000),
        lambda: incidents.set_severity(incident.id, "ana", "P" * 50_000),
        lambda: incidents.open_manual("Down", "P" * 50_000, "ana"),
    ):
        with pytest.raises(InputError) as err:
            await attempt()
        assert len(str(err.value)) < 400 and "\n" not in str(err.value)
    assert (await incidents.get(incident.id)).status is IncidentStatus.RESOLVED
