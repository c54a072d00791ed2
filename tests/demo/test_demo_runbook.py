"""The demo's runbook: every reference of the demo stack file resolves, its procedures are
suggested on each kind of demo incident, and every step runs harmlessly against a live target."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from vigil.config.load import Stack, load_stack
from vigil.demo.stack import DEMO_RUNBOOK, demo_stack_yaml, write_demo_runbook
from vigil.incidents.model import Incident
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.runbooks.library import load_library
from vigil.runbooks.model import StepKind
from vigil.runbooks.suggest import Suggestions


@pytest.fixture
def stack(tmp_path: Path, target_url: str) -> Stack:
    write_demo_runbook(tmp_path)
    (tmp_path / "vigil.yaml").write_text(demo_stack_yaml(target_url))
    return load_stack(tmp_path / "vigil.yaml")  # fails if a runbook: names no section


def test_the_demo_runbook_is_package_data_the_stack_file_reads(stack: Stack, target_url: str) -> None:
    library = load_library(stack)
    assert [r.file for r in library.runbooks] == [DEMO_RUNBOOK]
    assert library.stale(datetime.now(UTC).date(), stack.model.runbooks_max_age) == []
    assert stack.model.env == {"DEMO_TARGET": target_url}
    procedures = library.procedures()
    assert len(procedures) >= 6
    assert all(step.kind is StepKind.SHELL for p in procedures for step in p.steps)


def now_incident(number: int, key: str, title: str, service: str, check: str | None, reason: str) -> Incident:
    now = datetime.now(UTC)
    return Incident(
        number, key, title, IncidentStatus.TRIGGERED, Severity.P1, service, check, reason, [], now, now
    )


@pytest.mark.parametrize(
    ("incident", "trigger", "first"),
    [
        (
            now_incident(
                1,
                "check:api.health",
                "api.health is failing",
                "api",
                "api.health",
                "status 500, expected 200",
            ),
            "api.health failed 2 times in a row: status 500, expected 200",
            "issue-api-health-check-failing",
        ),
        (
            now_incident(2, "check:cache.status", "cache.status is failing", "cache", "cache.status", "x"),
            "cache.status failed 2 times in a row: checks.cache.status == healthy: got 'down'",
            "issue-cache-down",
        ),
        (
            now_incident(
                3, "check:postgres.status", "postgres.status is failing", "postgres", "postgres.status", "x"
            ),
            None,
            "issue-database-connection-errors",
        ),
        (
            now_incident(4, "alert:SlowP95:ab", "p95 latency 1.5s", "api", None, "p95 latency 1.5s"),
            "SlowP95 firing (service=api): value 1.5",
            "issue-slow-responses-p95-latency",
        ),
    ],
)
def test_each_kind_of_demo_incident_gets_procedures(
    stack: Stack, incident: Incident, trigger: str | None, first: str
) -> None:
    found = Suggestions(load_library(stack), stack.model).for_incident(incident, trigger)
    assert found[0].section.id == f"{DEMO_RUNBOOK}#{first}"
    assert len(found) == 3 and all(s.section.is_procedure for s in found)


@pytest.mark.parametrize("mode", ["recover", "fail", "db_down"])
def test_every_step_runs_harmlessly_against_the_target(stack: Stack, target_url: str, mode: str) -> None:
    env = {**os.environ, "DEMO_TARGET": target_url}
    httpx.get(f"{target_url}/health", timeout=5)  # a request for the metrics steps to count
    httpx.post(f"{target_url}/chaos", json={"mode": mode}, timeout=5).raise_for_status()
    try:
        for procedure in load_library(stack).procedures():
            for step in procedure.steps:
                done = subprocess.run(
                    ["bash", "-c", step.code],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=20,
                    check=False,
                )
                assert done.returncode == 0, f"{procedure.id} step {step.number}: {done.stderr}"
                assert done.stdout.strip(), f"{procedure.id} step {step.number} printed nothing"
        # The last procedure recovers the target: it is healthy again.
        assert httpx.get(f"{target_url}/health", timeout=5).json()["status"] == "healthy"
    finally:
        httpx.post(f"{target_url}/chaos", json={"mode": "recover"}, timeout=5)
