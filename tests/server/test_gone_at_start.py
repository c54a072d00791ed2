"""An incident whose check or alert rule left the stack file is resolved when ``vigil up`` starts,
with the reason on its timeline, and its resolve notice goes out as any resolve does.

A first Runtime opens the incidents from a first stack file; a second Runtime, over the same
store (SQLite, and PostgreSQL), starts from a second stack file without those checks and rules.
Pages go to a real local webhook receiver.

Two stack files over one store (two teams, or staging beside production): starting one
resolves only its own incidents, and neither its rule evaluator nor its escalator touches the
other's."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.server.conftest import Switch
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.gone import resolve_gone
from vigil.incidents.model import Incident
from vigil.probes.base import Result
from vigil.server.runtime import Runtime
from vigil.store.tables import EscalationRow, IncidentRow

HEADER = """
notify:
  channels:
    hook: {{webhook: "{hook}/hook"}}
  default: [hook]
"""
FIRST = """
services:
  api:
    checks:
      health: {{http: "{up}/health", every: 1h, alert: {{after: 1}}}}
      extra: {{http: "{up}/extra", every: 1h, alert: {{after: 1}}}}
      old: {{http: "{up}/old", every: 1h, alert: {{after: 1, group: false}}}}
      moved: {{http: "{up}/moved", every: 1h, alert: {{after: 1, group: false}}}}
  db:
    checks:
      ping: {{tcp: "127.0.0.1:9", every: 1h, alert: {{after: 1, severity: P1}}}}
  web:
    checks:
      home: {{http: "{up}/home", every: 1h, alert: false}}
alerts:
  - {{name: WebDown, expr: 'vigil_check_up{{service="web"}} == 0', severity: P2}}
"""
# api.old and api.extra are gone, api.moved is web.moved now, the WebDown rule is gone.
SECOND = """
services:
  api:
    checks:
      health: {{http: "{up}/health", every: 1h, alert: {{after: 1}}}}
  db:
    checks:
      ping: {{tcp: "127.0.0.1:9", every: 1h, alert: {{after: 1, severity: P1}}}}
  web:
    checks:
      home: {{http: "{up}/home", every: 1h, alert: false}}
      moved: {{http: "{up}/moved", every: 1h, alert: {{after: 1, group: false}}}}
"""


def runtime(engine: AsyncEngine, text: str, receiver: Switch, target: Switch, clock: FakeClock) -> Runtime:
    stack = (HEADER + text).format(hook=receiver.url, up=target.url)
    return Runtime(parse_stack("/srv/app/vigil.yaml", stack, {}), engine, clock=clock)


async def test_incidents_of_checks_and_rules_gone_from_the_stack_file_are_resolved_at_start(
    engine: AsyncEngine, receiver: Switch, target: Switch
) -> None:
    clock = FakeClock()
    first = runtime(engine, FIRST, receiver, target, clock)
    await first.failures.load()
    for check in ("api.health", "api.extra", "api.old", "api.moved", "db.ping", "web.home"):
        await first.flow(Result(check, False, 1.0, clock.now(), "connection refused"))
    await clock.advance(1)
    await first.flow(Result("api.health", True, 1.0, clock.now()))  # api.extra still fails
    await first.rules.evaluate_once()
    opened = {
        i.key.rsplit(":", 1)[0] if i.key.startswith("alert:") else i.key: i
        for i in await first.incidents.list()
    }
    assert set(opened) == {
        "check-group:api",
        "check:api.old",
        "check:api.moved",
        "check-group:db",
        "alert:WebDown",
    }
    await first.outbox.run_once()
    assert sorted(receiver.events()) == sorted(("triggered", i.id) for i in opened.values())
    await first.failures.close()

    second = runtime(engine, SECOND, receiver, target, clock)
    await second.start()
    try:
        gone = [opened[k] for k in ("check-group:api", "check:api.old", "check:api.moved", "alert:WebDown")]
        for _ in range(200):  # the outbox worker sends the notices on its own, and notes them
            lines = [[e.text for e in await second.incidents.timeline(i.id)] for i in gone]
            if all("resolved sent to hook" in texts for texts in lines):
                break
            await asyncio.sleep(0.02)
        assert {("resolved", i.id) for i in gone} <= set(receiver.events())
        assert await reasons(second, gone) == [
            "resolved at start: check api.extra is no longer in vigil.yaml",
            "resolved at start: check api.old is no longer in vigil.yaml",
            "resolved at start: check api.moved is no longer in vigil.yaml (web.moved is, under another service)",
            "resolved at start: alert rule WebDown is no longer in vigil.yaml",
        ]
        # PostgreSQL's check is still there and still fails: its incident stays open.
        assert (await second.incidents.get(opened["check-group:db"].id)).is_open
        assert ("resolved", opened["check-group:db"].id) not in receiver.events()
    finally:
        await second.stop()

    third = runtime(engine, SECOND, receiver, target, clock)  # starting again changes nothing
    await third.start()
    await third.stop()
    assert [i.id for i in await third.incidents.list() if i.is_open] == [opened["check-group:db"].id]


async def reasons(runtime: Runtime, incidents: list[Incident]) -> list[str]:
    found: list[str] = []
    for incident in incidents:
        assert (await runtime.incidents.get(incident.id)).status == "resolved"
        timeline = await runtime.incidents.timeline(incident.id)
        found += [e.text for e in timeline if e.text.startswith("resolved at start")]
        texts = [e.text for e in timeline]
        assert texts.index("resolved by vigil") < texts.index("resolved sent to hook")
    return found


TEAM_A = """
services:
  api:
    checks:
      health: {{http: "{up}/health", every: 1h, alert: {{after: 1}}}}
      old: {{http: "{up}/old", every: 1h, alert: {{after: 1, group: false}}}}
alerts:
  - {{name: ApiSlow, expr: 'vigil_check_up{{service="api"}} == 0', severity: P3}}
"""
TEAM_A_LATER = TEAM_A.replace(
    '      old: {{http: "{up}/old", every: 1h, alert: {{after: 1, group: false}}}}\n', ""
)
# Another team's stack file over the same store: its own service, rule and escalation policy.
TEAM_B = """
services:
  billing:
    checks:
      ping: {{tcp: "127.0.0.1:9", every: 1h, alert: {{after: 1}}}}
      own: {{http: "{up}/own", every: 1h, alert: {{after: 1, group: false}}}}
alerts:
  - {{name: BillingSlow, expr: 'vigil_check_up{{service="billing"}} == 0', severity: P3}}
oncall:
  escalation:
    default:
      steps:
        - {{notify: ["channel:hook"], wait: 15m}}
        - {{notify: ["channel:hook"], wait: 15m}}
"""


def team(
    engine: AsyncEngine, path: str, text: str, receiver: Switch, target: Switch, clock: FakeClock
) -> Runtime:
    stack = (HEADER + text).format(hook=receiver.url, up=target.url)
    return Runtime(parse_stack(path, stack, {}), engine, clock=clock)


async def open_both(
    engine: AsyncEngine, receiver: Switch, target: Switch, clock: FakeClock
) -> dict[str, int]:
    """Each team's checks fail and its rule fires: incidents open for both; key → incident id."""
    a = team(engine, "/srv/a/vigil.yaml", TEAM_A, receiver, target, clock)
    b = team(engine, "/srv/b/vigil.yaml", TEAM_B, receiver, target, clock)
    for runtime, checks in ((a, ("api.health", "api.old")), (b, ("billing.ping", "billing.own"))):
        await runtime.failures.load()
        for check in checks:
            await runtime.flow(Result(check, False, 1.0, clock.now(), "connection refused"))
        await runtime.rules.evaluate_once()
        await runtime.failures.close()
    found = {
        i.key.rsplit(":", 1)[0] if i.key.startswith("alert:") else i.key: i.id
        for i in await a.incidents.list()
    }
    assert set(found) == {*A_KEYS, *B_KEYS}
    async with engine.connect() as conn:
        stacks = dict((await conn.execute(select(IncidentRow.id, IncidentRow.stack))).all())
    assert {stacks[found[k]] for k in A_KEYS} == {a.stack.identity}
    assert {stacks[found[k]] for k in B_KEYS} == {b.stack.identity} != {a.stack.identity}
    return found


A_KEYS = ("check-group:api", "check:api.old", "alert:ApiSlow")
B_KEYS = ("check-group:billing", "check:billing.own", "alert:BillingSlow")


async def test_a_stack_file_starting_resolves_its_own_gone_incidents_and_none_of_another_stack_files(
    engine: AsyncEngine, receiver: Switch, target: Switch
) -> None:
    clock = FakeClock()
    opened = await open_both(engine, receiver, target, clock)
    async with engine.connect() as conn:
        escalations = (await conn.execute(select(EscalationRow).order_by(EscalationRow.incident_id))).all()
    assert {e.incident_id for e in escalations} == {opened[k] for k in B_KEYS}  # due now, not yet paged

    later = team(engine, "/srv/a/vigil.yaml", TEAM_A_LATER, receiver, target, clock)  # api.old removed
    await later.start()
    try:
        await later.rules.evaluate_once()  # its first cycle settles the rule incidents left open
        await later.escalator.run_once()  # another team's escalations are due: not this one's to page
        old = await later.incidents.get(opened["check:api.old"])
        assert old.status == "resolved"
        texts = [e.text for e in await later.incidents.timeline(old.id)]
        assert "resolved at start: check api.old is no longer in vigil.yaml" in texts
        for key in B_KEYS:
            incident = await later.incidents.get(opened[key])
            assert incident.is_open, (key, [e.text for e in await later.incidents.timeline(incident.id)])
        async with engine.connect() as conn:
            after = (await conn.execute(select(EscalationRow).order_by(EscalationRow.incident_id))).all()
        assert after == escalations  # neither stopped ("policy default is no longer …") nor paged
    finally:
        await later.stop()


async def test_an_incident_from_before_stacks_were_recorded_is_taken_only_by_a_stack_file_that_opens_its_key(
    engine: AsyncEngine, receiver: Switch, target: Switch
) -> None:
    clock = FakeClock()
    opened = await open_both(engine, receiver, target, clock)
    async with engine.begin() as conn:  # as migration 0011 leaves them
        await conn.execute(update(IncidentRow).values(stack=None))
    later = team(engine, "/srv/a/vigil.yaml", TEAM_A_LATER, receiver, target, clock)
    assert await resolve_gone(later.incidents, later.stack) == []
    async with engine.connect() as conn:
        stacks = dict((await conn.execute(select(IncidentRow.id, IncidentRow.stack))).all())
    # Its group and its rule's incident are its own; api.old, no longer in any stack file, and
    # the other team's are no one's: left open, for a person to resolve.
    assert {k: stacks[opened[k]] for k in (*A_KEYS, *B_KEYS)} == {
        "check-group:api": later.stack.identity,
        "check:api.old": None,
        "alert:ApiSlow": later.stack.identity,
        "check-group:billing": None,
        "check:billing.own": None,
        "alert:BillingSlow": None,
    }
    assert all([(await later.incidents.get(i)).is_open for i in opened.values()])
