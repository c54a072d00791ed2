"""A real Alertmanager pages ``vigil up`` through its webhook: a firing alert opens one incident
(repeats change nothing), the resolved notice resolves it; bad payloads answer 422."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.server.conftest import VIGIL, wait_until

STACK = "services:\n  api:\n    checks:\n      health: {tcp: '127.0.0.1:9', every: 1h, alert: false}\n"


def token(db: str) -> str:
    out = subprocess.run(
        [VIGIL, "token", "create", "--role", "responder", "--name", "alertmanager", "--db", db, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["token"])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Any]:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is missing: run scripts/install-peers.sh")
    started: list[subprocess.Popen[bytes]] = []

    def start(vigil_url: str, bearer: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            f"""
route:
  receiver: vigil
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: vigil
    webhook_configs:
      - url: {vigil_url}/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: "{bearer}"}}
"""
        )
        port = free_port()
        storage = tempfile.mkdtemp(dir=tmp_path)
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "alertmanager.log").open("w"),
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 20, "Alertmanager to be ready")
        return url

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def push(url: str, ends_at: datetime) -> None:
    alert = {
        "labels": {"alertname": "DatabaseDown", "severity": "critical", "service": "postgres"},
        "annotations": {"summary": "PostgreSQL is not answering"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "endsAt": ends_at.isoformat(),
    }
    assert httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).status_code == 200


def test_alertmanager_opens_and_resolves_one_incident(vigil_up: Any, alertmanager: Any) -> None:
    vigil = vigil_up(STACK)
    vigil.start()
    am = alertmanager(vigil.url, token(vigil.db))
    push(am, datetime.now(UTC) + timedelta(hours=1))
    wait_until(lambda: vigil.api("/incidents"), 20, "an incident from Alertmanager")
    push(am, datetime.now(UTC) + timedelta(hours=1))  # Prometheus re-sends firing alerts
    time.sleep(2)
    [incident] = vigil.api("/incidents")
    assert (incident["title"], incident["severity"], incident["service"]) == (
        "PostgreSQL is not answering",
        "P1",
        "postgres",
    )
    push(am, datetime.now(UTC) - timedelta(seconds=1))
    wait_until(lambda: vigil.api("/incidents")[0]["status"] == "resolved", 20, "the resolved notice")
    assert len(vigil.api("/incidents")) == 1


def test_a_payload_that_is_not_alertmanager_s_is_refused_with_422(vigil_up: Any) -> None:
    vigil = vigil_up(STACK)
    vigil.start()
    headers = {"Authorization": f"Bearer {token(vigil.db)}"}
    for body in ({"version": "4", "alerts": "no"}, {"hello": "world"}, [1, 2]):
        answer = httpx.post(f"{vigil.url}/api/v1/alertmanager", json=body, headers=headers, timeout=5)
        assert answer.status_code == 422
        assert answer.json()
    assert httpx.post(f"{vigil.url}/api/v1/alertmanager", json={}, timeout=5).status_code == 401
