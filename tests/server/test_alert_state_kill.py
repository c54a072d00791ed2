"""``kill -9`` of ``vigil up`` with a pending and then a firing alert (real processes, real
webhook receiver, the SQLite store read as it is on disk): after a restart the pending alert
fires when its ``for`` is used up, not a whole ``for`` later, and the firing one stays on its
incident without a second page."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Switch, wait_until

FOR = 20.0  # the rule's `for`, in seconds

STACK = """
engine: {{evaluate_every: 500ms}}
notify:
  channels:
    hook: {{webhook: "{receiver}/hook"}}
  default: [hook]
services:
  web:
    checks:
      health: {{http: "{target}/health", every: 500ms, timeout: 2s, alert: false}}
alerts:
  # Holds from the first evaluation on, before any probe ran: the series store starts empty.
  - name: WebDown
    expr: absent(vigil_check_up{{service="web"}} == 1)
    for: 20s
"""


def stored(db: Path) -> list[tuple[str, float, float, int | None]]:
    """(state, active_at, seen_at, incident id) of each kept alert, as on disk."""
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT state, active_at, seen_at, incident_id FROM alert_states").fetchall()
    return [(s, moment(a), moment(seen), i) for s, a, seen, i in found]


def moment(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()  # SQLite keeps UTC digits


def triggered(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox WHERE event = 'triggered'").fetchone()[0])


@pytest.mark.slow
def test_kill_9_keeps_a_pending_alerts_time_and_a_firing_alerts_incident(
    target: Switch, receiver: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    target.healthy = False
    vigil = vigil_up(STACK.format(target=target.url, receiver=receiver.url))
    db = tmp_path / "vigil.db"
    vigil.start()
    wait_until(lambda: stored(db) and stored(db)[0][2] - stored(db)[0][1] >= 12, 30, "12 s pending")
    assert vigil.kill() == -9
    [(state, active_at, seen_at, incident)] = stored(db)
    assert (state, incident) == ("pending", None)
    left = FOR - (seen_at - active_at)  # what is left of its `for`: 8 s or less

    time.sleep(2)  # down for a while: that time does not count as pending
    restarted = time.time()
    vigil.start()
    ready = time.time()  # the first evaluation ran between the two: rules start before the API
    wait_until(lambda: vigil.api("/incidents"), 30, "the alert to fire")
    [opened] = vigil.api("/incidents")
    fired = datetime.fromisoformat(opened["opened_at"]).timestamp()
    # Fires once what was left has passed after the start, not a whole `for` (20 s) after it.
    assert restarted + left - 1 <= fired <= ready + left + 3, (restarted, ready, left, fired)
    wait_until(lambda: ("triggered", opened["id"]) in receiver.events(), 10, "the page")
    [(state, _, _, incident)] = stored(db)
    assert (state, incident) == ("firing", opened["id"])

    assert vigil.kill() == -9
    vigil.start()
    time.sleep(3)  # several evaluations after the restart, all firing
    assert [i["id"] for i in vigil.api("/incidents")] == [opened["id"]]
    assert vigil.api(f"/incidents/{opened['id']}")["status"] == "triggered"
    assert triggered(db) == 1  # no second page queued, none sent
    assert receiver.events().count(("triggered", opened["id"])) == 1
    [(state, _, _, incident)] = stored(db)
    assert (state, incident) == ("firing", opened["id"])  # restored firing, not pending afresh

    target.healthy = True  # it clears: one resolved notice, on the same incident
    wait_until(lambda: ("resolved", opened["id"]) in receiver.events(), 20, "the resolved notice")
    assert stored(db) == []
    timeline = [e["text"] for e in vigil.api(f"/incidents/{opened['id']}")["timeline"]]
    # Resolved by its alert clearing, as without a restart; never adopted after one.
    assert [line for line in timeline if line.startswith("WebDown resolved")]
    assert not [line for line in timeline if "after Vigil restarted" in line or line.startswith("also ")]
