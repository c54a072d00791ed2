"""Rule incidents left open by an earlier run: after the first evaluation following a start,
those whose alerts cleared meanwhile resolve; those with pending alerts wait for them."""

from __future__ import annotations

from collections.abc import Callable

from tests.alerting.conftest import Rules
from vigil.incidents.model import EventKind

STACK = """
notify: {channels: {log: {log: true}}, default: [log]}
alerts:
  - {name: Gone, expr: a > 1}
  - {name: Stays, expr: b > 1}
  - {name: Slow, expr: c > 1, for: 1m, group_by: [path]}
  - {name: Broken, expr: d > 1}
  - {name: Removed, expr: e > 1}
"""


async def test_rule_incidents_whose_alerts_cleared_while_vigil_was_down_resolve(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(STACK)
    r.samples = {
        "Gone": [({}, 2.0)],
        "Stays": [({}, 2.0)],
        "Slow": [({"path": "/a"}, 2.0), ({"path": "/b"}, 2.0)],
        "Broken": [({}, 2.0)],
        "Removed": [({}, 2.0)],
    }
    await r.step()
    await r.step(60)
    opened = {(await r.lines(i.id))[0].split(":")[0]: i.id for i in await r.incidents.list()}
    assert sorted(opened) == [
        "Broken firing",
        "Gone firing",
        "Removed firing",
        "Slow firing (path=/a)",
        "Slow firing (path=/b)",
        "Stays firing",
    ]

    async def status() -> dict[str, str]:
        return {name: str((await r.incidents.get(i)).status) for name, i in opened.items()}

    # Vigil was down a while; meanwhile Gone and Broken cleared, Removed left the stack file,
    # and Broken's source is unreachable for now.
    del r.samples["Gone"], r.samples["Broken"]
    r.broken.add("Broken")
    r.restart([rule for rule in r.stack.alerts if rule.name != "Removed"])
    await r.step(600)
    assert await status() == {
        "Broken firing": "triggered",  # not evaluated: nothing is known of its alerts yet
        "Gone firing": "resolved",
        "Removed firing": "resolved",
        "Slow firing (path=/a)": "triggered",  # pending again: waits
        "Slow firing (path=/b)": "triggered",
        "Stays firing": "triggered",
    }
    [recovered] = await r.lines(opened["Gone firing"], EventKind.RECOVERED)
    assert recovered.startswith("Gone no longer firing after Vigil restarted after ")
    assert (await r.lines(opened["Stays firing"]))[-1] == "also Stays firing: value 2"  # adopted

    # /b stops before it fires again: its incident resolves. /a fires: its incident is Slow's
    # as before, and resolves as usual when it stops.
    r.samples["Slow"] = [({"path": "/a"}, 2.0)]
    await r.step()
    assert (await status())["Slow firing (path=/b)"] == "resolved"
    assert (await status())["Slow firing (path=/a)"] == "triggered"
    await r.step(60)
    assert (await r.lines(opened["Slow firing (path=/a)"]))[-1] == "also Slow firing (path=/a): value 2"
    r.samples["Slow"] = []
    await r.step()
    assert (await status())["Slow firing (path=/a)"] == "resolved"

    # Broken evaluates again, with no alert: its incident resolves then, not before.
    r.broken.clear()
    await r.step()
    assert (await status())["Broken firing"] == "resolved"
    assert len(await r.incidents.list()) == 6  # nothing opened twice


async def test_a_left_open_incident_whose_group_fires_only_as_a_symptom_resolves(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(
        "notify: {channels: {log: {log: true}}, default: [log]}\nalerts: [{name: Errors, expr: e > 1}]\n"
    )
    r.samples["Errors"] = [({"service": "api"}, 2.0), ({"service": "worker"}, 2.0)]
    await r.step()
    [incident] = await r.incidents.list()

    # While Vigil was down the worker recovered and postgres, which api needs, went down.
    r.samples["Errors"] = [({"service": "api"}, 2.0)]
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.restart()
    await r.step(300)
    assert await r.status(incident.id) == "resolved"
    assert await r.lines(postgres, EventKind.SYMPTOM) == [
        "Errors firing (service=api): value 2; it depends on postgres"
    ]
