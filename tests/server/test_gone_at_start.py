"""An incident whose check or alert rule left the stack file is resolved when ``vigil up`` starts,
with the reason on its timeline, and its resolve notice goes out as any resolve does.

A first Runtime opens the incidents from a first stack file; a second Runtime, over the same
store (SQLite, and PostgreSQL), starts from a second stack file without those checks and rules.
Pages go to a real local webhook receiver."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.server.conftest import Switch
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import Incident
from vigil.probes.base import Result
from vigil.server.runtime import Runtime

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
