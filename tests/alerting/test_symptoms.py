"""Rule alerts of a service whose dependency is down: each alert judged from its own service,
held as that outage's symptom and noted on its incident once, and paging once the dependency
recovers while it still fires."""

from __future__ import annotations

from collections.abc import Callable

from tests.alerting.conftest import Rules
from vigil.incidents.model import EventKind

STACK = """
notify: {channels: {log: {log: true}}, default: [log]}
alerts:
  - name: HighErrorRate
    expr: errors > 0.05
    annotations: {summary: "Errors on {{ $labels.service }}"}
"""


async def test_only_the_alerts_of_a_service_that_depends_on_the_failure_are_held(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(STACK)
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    # One group (group_by: alertname) with alerts of two services; only api needs postgres.
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3), ({"service": "worker"}, 0.2)]
    await r.step()
    [(title, status)] = await r.rule_incidents()
    assert (title, status) == ("Errors on worker", "triggered")
    [incident] = [i for i in await r.incidents.list() if i.key.startswith("alert:")]
    assert await r.lines(incident.id, EventKind.TRIGGERED) == [
        "HighErrorRate firing (service=worker): value 0.2"
    ]
    assert not any("api" in line for line in await r.lines(incident.id))

    # Each alert held is noted once, however long it fires.
    r.samples["HighErrorRate"].append(({"service": "api", "path": "/b"}, 0.4))
    await r.step()
    await r.step()
    assert await r.lines(postgres, EventKind.SYMPTOM) == [
        "HighErrorRate firing (service=api): value 0.3; it depends on postgres",
        "HighErrorRate firing (path=/b, service=api): value 0.4; it depends on postgres",
    ]

    # The group's incident is the worker's: it resolves when the worker's alert does, though
    # api's symptoms still fire; their own ends are noted on the outage's incident.
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3), ({"service": "api", "path": "/b"}, 0.4)]
    await r.step()
    assert await r.status(incident.id) == "resolved"
    r.samples["HighErrorRate"] = []
    await r.step()
    assert (await r.lines(postgres, EventKind.SYMPTOM))[2:] == [
        "HighErrorRate resolved (service=api)",
        "HighErrorRate resolved (path=/b, service=api)",
    ]
    assert await r.rule_incidents() == [("Errors on worker", "resolved")]


async def test_a_group_s_incident_resolves_though_a_symptom_fires_after_it_opened(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(STACK)
    r.samples["HighErrorRate"] = [({"service": "worker"}, 0.2)]
    await r.step()
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.samples["HighErrorRate"].append(({"service": "api"}, 0.3))
    await r.step()
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3)]
    await r.step()
    assert await r.rule_incidents() == [("Errors on worker", "resolved")]
    assert len(await r.lines(postgres, EventKind.SYMPTOM)) == 1


async def test_a_symptom_still_firing_after_its_dependency_recovers_pages(
    rules: Callable[[str], Rules],
) -> None:
    r = rules(STACK)
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3)]
    await r.step()
    await r.step()
    assert await r.rule_incidents() == []

    await r.incidents.recover("check:postgres.ping", "postgres.ping passed again")
    del r.down["api"]
    await r.step()
    [incident] = [i for i in await r.incidents.list() if i.key.startswith("alert:")]
    assert (incident.title, str(incident.status)) == ("Errors on api", "triggered")
    assert await r.lines(incident.id, EventKind.TRIGGERED) == [
        "HighErrorRate firing (service=api): value 0.3; held as a symptom of postgres until postgres recovered"
    ]
    await r.step()
    assert len(await r.lines(incident.id)) == 1  # paged once, not again at each evaluation

    r.samples["HighErrorRate"] = []
    await r.step()
    assert await r.status(incident.id) == "resolved"
    assert await r.lines(postgres, EventKind.SYMPTOM) == [
        "HighErrorRate firing (service=api): value 0.3; it depends on postgres"
    ]


async def test_a_released_symptom_joins_its_group_s_open_incident(rules: Callable[[str], Rules]) -> None:
    r = rules(STACK)
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3), ({"service": "worker"}, 0.2)]
    await r.step()
    del r.down["api"]
    await r.step()
    [incident] = [i for i in await r.incidents.list() if i.key.startswith("alert:")]
    assert (await r.lines(incident.id))[1:] == [
        "also HighErrorRate firing (service=api): value 0.3; held as a symptom of postgres until postgres recovered"
    ]
    # Now a member like any other: the incident stays open while it fires.
    r.samples["HighErrorRate"] = [({"service": "api"}, 0.3)]
    await r.step()
    assert await r.status(incident.id) == "triggered"
    r.samples["HighErrorRate"] = []
    await r.step()
    assert await r.status(incident.id) == "resolved"
