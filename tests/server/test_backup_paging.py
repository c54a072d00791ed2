"""A stale backup pages, end to end: a real ``vigil up`` whose backup job takes one backup and
then no more; once the newest verified backup is older than the rpo, the check ``backups.appdb``
fails on time, an incident opens and the webhook is paged, and the dashboard shows the job
stale. The next backup mends it and the incident resolves."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import Switch, wait_until

RPO = 8  # seconds: past it the backup is stale


def stack(receiver: Switch, tmp_path: Path) -> str:
    return f"""
server: {{public_read: true}}
notify:
  channels:
    hook: {{webhook: "{receiver.url}/hook"}}
  default: [hook]
backups:
  appdb:
    engine: sqlite
    source: {tmp_path / "app.db"}
    schedule: "0 0 1 1 *"  # not again within the test: after the first, the backups stop
    destination: {tmp_path / "backups"}
    keep: {{count: 3}}
    rpo: {RPO}s
    alert: {{after: 1, severity: P2}}
"""


def backup_incidents(vigil: Any) -> list[dict[str, Any]]:
    return [i for i in vigil.api("/incidents") if i["check"] == "backups.appdb"]


@pytest.mark.slow
def test_a_backup_older_than_its_rpo_opens_an_incident_that_pages(
    receiver: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id)")
        conn.executemany("INSERT INTO orders VALUES (?)", [(i,) for i in range(1000)])
    vigil = vigil_up(stack(receiver, tmp_path))
    vigil.start()
    responder = {"Authorization": f"Bearer {vigil.token('responder')}"}
    assert vigil.api("/checks/backups.appdb")["status"] == "pending"  # new: nothing to judge yet

    ran = httpx.post(f"{vigil.url}/api/v1/backups/appdb/run", headers=responder, timeout=30).json()
    assert ran["ok"] is True, ran
    assert vigil.api("/checks/backups.appdb")["status"] == "ok"
    assert backup_incidents(vigil) == [] and receiver.events() == []

    wait_until(lambda: backup_incidents(vigil), RPO + 10, "an incident for the stale backup")
    [incident] = backup_incidents(vigil)
    assert incident["severity"] == "P2" and incident["status"] == "triggered"
    assert incident["reason"].startswith("the newest verified backup is ")
    assert incident["reason"].endswith(f"rpo {RPO}s")
    wait_until(lambda: ("triggered", incident["id"]) in receiver.events(), 10, "the page")
    page = httpx.get(f"{vigil.url}/backups", timeout=5).text
    assert 'class="backup-job stale"' in page and '<strong class="stale-mark">stale</strong>' in page

    again = httpx.post(f"{vigil.url}/api/v1/backups/appdb/run", headers=responder, timeout=30).json()
    assert again["ok"] is True, again
    wait_until(lambda: backup_incidents(vigil)[0]["status"] == "resolved", 10, "the incident to resolve")
    wait_until(lambda: ("resolved", incident["id"]) in receiver.events(), 10, "the resolved notice")
    assert receiver.events().count(("triggered", incident["id"])) == 1
