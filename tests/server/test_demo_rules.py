"""The demo stack's rules over the demo target's own /metrics: breaking the target with /chaos
fires the error-rate rule, slowing it fires the p95 rule, each paging once — and each incident
suggests the demo runbook's procedures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import Switch, wait_until
from vigil.demo.process import start_target_process, stop_target_process
from vigil.demo.stack import demo_stack_yaml, write_demo_runbook


@pytest.fixture
def demo_target() -> Iterator[str]:
    process, url = start_target_process()
    yield url
    stop_target_process(process)


def runbooks(vigil: Any, incident_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = vigil.api(f"/incidents/{incident_id}")["runbooks"]
    return found


def titles(vigil: Any) -> list[str]:
    return [i["title"] for i in vigil.api("/incidents")]


@pytest.mark.slow
def test_chaos_fires_the_error_rate_and_p95_rules(
    demo_target: str, receiver: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    write_demo_runbook(tmp_path)
    vigil = vigil_up(demo_stack_yaml(demo_target, f"{receiver.url}/hook"))
    vigil.start()
    wait_until(lambda: vigil.api("/checks/api.health")["status"] == "ok", 15, "the demo to be healthy")

    httpx.post(f"{demo_target}/chaos", json={"mode": "fail"}, timeout=5)
    wait_until(lambda: any(t.startswith("Error rate ") for t in titles(vigil)), 40, "HighErrorRate to fire")
    [error_rate] = [i for i in vigil.api("/incidents") if i["title"].startswith("Error rate ")]
    assert error_rate["severity"] == "P1"
    timeline = vigil.api(f"/incidents/{error_rate['id']}")["timeline"]
    assert timeline[0]["text"].startswith("HighErrorRate firing")
    wait_until(lambda: ("triggered", error_rate["id"]) in receiver.events(), 10, "the error-rate page")
    suggested = runbooks(vigil, error_rate["id"])
    assert (suggested[0]["id"], suggested[0]["why"]) == (
        "demo-runbook.md#issue-high-error-rate",
        "named by alert HighErrorRate",
    )
    assert len(suggested) == 3 and all(s["steps"] for s in suggested)
    assert "$DEMO_TARGET/metrics" in suggested[0]["steps"][0]["code"]
    with receiver.lock:
        [page] = [m for m in receiver.received if m["incident_id"] == error_rate["id"]]
    assert page["runbooks"][0]["id"] == "demo-runbook.md#issue-high-error-rate"

    httpx.post(f"{demo_target}/chaos", json={"mode": "recover"}, timeout=5)
    httpx.post(f"{demo_target}/chaos", json={"mode": "slow", "latency_ms": 1500}, timeout=5)
    wait_until(lambda: any(t.startswith("p95 latency ") for t in titles(vigil)), 40, "SlowP95 to fire")
    [slow] = [i for i in vigil.api("/incidents") if i["title"].startswith("p95 latency ")]
    # No rule names a section for SlowP95: ranking finds it by the alert's words.
    [best, *_] = runbooks(vigil, slow["id"])
    assert best["id"] == "demo-runbook.md#issue-slow-responses-p95-latency"
    assert best["why"].startswith("matches ")
    assert sum(1 for t in titles(vigil) if t.startswith("Error rate ")) == 1


@pytest.mark.slow
def test_a_database_outage_pages_once_for_the_database(
    demo_target: str, receiver: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    write_demo_runbook(tmp_path)
    vigil = vigil_up(demo_stack_yaml(demo_target, f"{receiver.url}/hook"))
    vigil.start()
    wait_until(lambda: vigil.api("/checks/postgres.status")["status"] == "ok", 15, "the demo to be healthy")

    httpx.post(f"{demo_target}/chaos", json={"mode": "db_down"}, timeout=5)
    wait_until(receiver.events, 20, "a page")
    wait_until(lambda: vigil.api("/checks/api.health")["status"] == "failing", 10, "the API to fail too")
    time.sleep(12)  # long enough for the API's checks and the error-rate rule to have fired on their own
    incidents = vigil.api("/incidents")
    assert [i["check"] for i in incidents] == ["postgres.status"]
    assert [event for event, _ in receiver.events()] == ["triggered"]
    kinds = [e["kind"] for e in vigil.api(f"/incidents/{incidents[0]['id']}")["timeline"]]
    assert "symptom" in kinds
    suggested = [s["id"] for s in runbooks(vigil, incidents[0]["id"])]
    assert suggested[0] == "demo-runbook.md#issue-database-connection-errors"
