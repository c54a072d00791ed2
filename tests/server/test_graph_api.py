"""The graph data of the dashboard over HTTP: a check's latency and up (raw samples, and the
history before them), a rule's measured side with its threshold, an incident's window; and the
bounds of each. Results go through the real flow into the real series store and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from vigil.metrics.history import HistoryWriter
from vigil.probes.base import Result

STACK = """
server: {public_read: true}  # reading is not what this file tests (test_private.py is)
notify:
  channels: {l: {log: true}}
  default: [l]
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1}}
alerts:
  - name: SlowApi
    expr: vigil_check_duration_seconds{service="api"} > 0.05
  - name: ApiUp
    expr: vigil_check_up{service="api"}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        yield {"client": client, "runtime": runtime, "clock": clock}


async def runs(setup: dict[str, Any], count: int, every: float, *, ok: bool = True, ms: float = 20.0) -> None:
    runtime, clock = setup["runtime"], setup["clock"]
    for _ in range(count):
        await runtime.flow(Result("api.health", ok, ms, clock.now(), None if ok else "status 500"))
        await clock.advance(every)


async def test_a_check_graph_has_latency_in_ms_and_up_on_one_time_axis(setup: dict[str, Any]) -> None:
    await runs(setup, 10, 30.0, ms=20.0)
    await runs(setup, 10, 30.0, ok=False, ms=80.0)
    answer = (await setup["client"].get("/api/v1/graphs/checks/api.health", params={"hours": 1})).json()
    assert answer["check"] == "api.health" and not answer["empty"]
    latency, up = answer["lines"]
    assert (latency["name"], latency["unit"], up["name"], up["unit"]) == ("latency", "ms", "up", "ratio")
    assert len(answer["times"]) == len(latency["values"]) == len(up["values"])
    assert answer["times"] == sorted(answer["times"])
    seen = [v for v in latency["values"] if v is not None]
    assert min(seen) == pytest.approx(20.0) and max(seen) == pytest.approx(80.0)
    assert {v for v in up["values"] if v is not None} == {0.0, 1.0}


async def test_a_long_check_graph_reads_the_history_before_the_raw_samples(setup: dict[str, Any]) -> None:
    runtime, clock = setup["runtime"], setup["clock"]
    await runs(setup, 20, 30.0, ms=40.0)  # ten minutes: two 5-minute buckets
    await HistoryWriter(runtime.series, runtime.engine, clock).flush_once(clock.now())
    # The in-memory store forgets them (as after a restart); only the history has them.
    runtime.series.prune(clock.now().timestamp() + runtime.series.retention)
    await runs(setup, 4, 30.0, ms=10.0)
    answer = (await setup["client"].get("/api/v1/graphs/checks/api.health", params={"hours": 2})).json()
    latency = answer["lines"][0]["values"]
    assert [round(v) for v in latency if v is not None][:2] == [40, 40]  # the two buckets
    assert round([v for v in latency if v is not None][-1]) == 10  # then the raw samples


async def test_a_check_without_runs_is_an_empty_graph(setup: dict[str, Any]) -> None:
    answer = (await setup["client"].get("/api/v1/graphs/checks/api.health")).json()
    assert answer["empty"] is True and answer["times"] == []


async def test_a_rule_graph_draws_the_measured_side_and_the_threshold(setup: dict[str, Any]) -> None:
    await runs(setup, 20, 30.0, ms=20.0)
    await runs(setup, 20, 30.0, ms=90.0)
    answer = (await setup["client"].get("/api/v1/graphs/rules/SlowApi", params={"hours": 1})).json()
    assert answer["threshold"] == {"op": ">", "value": 0.05}
    (line,) = answer["lines"]
    values = [v for v in line["values"] if v is not None]
    # The measured side, below the threshold too (the whole expression would drop those).
    assert min(values) == pytest.approx(0.02) and max(values) == pytest.approx(0.09)
    assert 'service="api"' in line["name"]


async def test_a_rule_without_a_comparison_has_no_threshold(setup: dict[str, Any]) -> None:
    await runs(setup, 3, 30.0)
    answer = (await setup["client"].get("/api/v1/graphs/rules/ApiUp")).json()
    assert answer["threshold"] is None and not answer["empty"]


async def test_an_incident_graph_is_the_window_of_the_check_that_opened_it(setup: dict[str, Any]) -> None:
    await runs(setup, 20, 30.0)
    await runs(setup, 4, 30.0, ok=False, ms=5.0)
    (incident,) = await setup["runtime"].incidents.list()
    answer = (await setup["client"].get(f"/api/v1/graphs/incidents/{incident.id}")).json()
    assert answer["check"] == "api.health" and not answer["empty"]
    opened = incident.opened_at.timestamp()
    assert answer["start"] == opened - 600 and answer["end"] == setup["clock"].now().timestamp()
    assert 0.0 in answer["lines"][1]["values"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/graphs/checks/api.health", {"hours": 0}),
        ("/api/v1/graphs/checks/api.health", {"hours": 721}),
        ("/api/v1/graphs/checks/api.health", {"points": 9}),
        ("/api/v1/graphs/checks/api.health", {"points": 2001}),
        ("/api/v1/graphs/rules/SlowApi", {"hours": 25}),
        ("/api/v1/graphs/rules/SlowApi", {"hours": "x"}),
        ("/api/v1/graphs/incidents/0", {}),
    ],
)
async def test_out_of_bounds_asks_are_a_422_with_a_reason(
    setup: dict[str, Any], path: str, params: dict[str, Any]
) -> None:
    response = await setup["client"].get(path, params=params)
    assert response.status_code == 422
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/v1/graphs/checks/api.nope", "api.nope"),
        ("/api/v1/graphs/rules/Nope", "Nope"),
        ("/api/v1/graphs/incidents/99", "99"),
    ],
)
async def test_unknown_checks_rules_and_incidents_are_a_404_naming_them(
    setup: dict[str, Any], path: str, named: str
) -> None:
    response = await setup["client"].get(path)
    assert response.status_code == 404
    assert named in response.json()["error"]


async def test_a_points_bound_bounds_every_line(setup: dict[str, Any]) -> None:
    await runs(setup, 200, 5.0)
    for path in ("/api/v1/graphs/checks/api.health", "/api/v1/graphs/rules/ApiUp"):
        answer = (await setup["client"].get(path, params={"hours": 1, "points": 20})).json()
        assert 0 < len(answer["times"]) <= 21, path
        assert timedelta(seconds=answer["end"] - answer["start"]) == timedelta(hours=1)


async def test_an_incident_graph_of_a_rule_draws_the_rule_with_its_threshold(setup: dict[str, Any]) -> None:
    await runs(setup, 5, 30.0, ms=90.0)
    await setup["runtime"].rules.evaluate_once()  # ApiUp fires too: any up sample is an alert
    (incident,) = [i for i in await setup["runtime"].incidents.list() if i.key.startswith("alert:SlowApi:")]
    answer = (await setup["client"].get(f"/api/v1/graphs/incidents/{incident.id}")).json()
    assert answer["rule"] == "SlowApi" and answer["threshold"] == {"op": ">", "value": 0.05}
    assert 0.09 in answer["lines"][0]["values"]
    page = await setup["client"].get(f"/incidents/{incident.id}")
    assert 'rule <a href="/rules/SlowApi">SlowApi</a>' in page.text


async def test_an_incident_opened_by_hand_has_no_graph(setup: dict[str, Any]) -> None:
    incident = await setup["runtime"].incidents.open_manual(
        title="Checkout slow", severity="P2", service="api", actor="alice"
    )
    response = await setup["client"].get(f"/api/v1/graphs/incidents/{incident.id}")
    assert response.status_code == 404 and "not opened by a check or rule" in response.json()["error"]
    assert "data-graph" not in (await setup["client"].get(f"/incidents/{incident.id}")).text


SPLIT_STACK = """
server: {public_read: true}
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
      ready: {http: "http://127.0.0.1:9/ready"}
      quick: {http: "http://127.0.0.1:9/quick"}
alerts:
  - name: SlowCheck  # an incident per check
    expr: vigil_check_duration_seconds{service="api"} > 0.05
    group_by: [alertname, check]
    labels: {team: web}
  - name: SlowService  # one incident for all its alerts
    expr: vigil_check_duration_seconds{service="api"} > 0.05
"""


async def test_an_incident_of_a_rule_draws_only_the_series_of_its_own_alerts(tmp_path: Path) -> None:
    async with served(tmp_path, SPLIT_STACK) as (client, runtime, clock):
        for _ in range(5):
            for check, ms in (("health", 90.0), ("ready", 70.0), ("quick", 10.0)):
                await runtime.flow(Result(f"api.{check}", True, ms, clock.now(), None))
            await clock.advance(30.0)
        await runtime.rules.evaluate_once()
        incidents = await runtime.incidents.list()
        per_check = {i.labels["check"]: i for i in incidents if i.key.startswith("alert:SlowCheck:")}
        assert sorted(per_check) == ["health", "ready"]
        for check, value in (("health", 0.09), ("ready", 0.07)):
            answer = (await client.get(f"/api/v1/graphs/incidents/{per_check[check].id}")).json()
            (line,) = answer["lines"]  # not the other check's, nor the quick one's below the threshold
            assert f'check="{check}"' in line["name"] and value in line["values"]
        (shared,) = [i for i in incidents if i.key.startswith("alert:SlowService:")]
        answer = (await client.get(f"/api/v1/graphs/incidents/{shared.id}")).json()
        drawn = sorted(line["name"].split('check="')[1].split('"')[0] for line in answer["lines"])
        assert drawn == ["health", "ready"]  # both its alerts; the quick check never alerted
        rule = (await client.get("/api/v1/graphs/rules/SlowCheck")).json()
        assert len(rule["lines"]) == 3  # the rule's own graph draws every series it measures
