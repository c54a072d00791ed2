"""The demo's restart story, with real processes: ``vigil up`` on the demo's stack file, its target
broken until an alert fires and an incident opens, then slowed until a second alert is pending;
``kill -9`` and a start on the same store keep the graphs (points from before the restart), the
pending alert's active-since, the firing alert's incident and every open incident, without a
second page; and ``promtool query range``, as Grafana's Prometheus data source would ask, draws
the demo's request rate across the restart from Vigil's ``/prometheus``.

The demo's rules read 30 s windows; a ``vigil up`` that starts slower than that (a loaded test
machine) would find them empty at its first evaluation, so the test widens them to 2 minutes.
The kill waits until the samples that made the p95 rule pending are in the series log (it writes
a batch a second): a kill loses that last batch by design, and without those samples the rule is
no longer true after the restart, so its pending alert would rightly end. The rule's ``for`` is
lengthened so that it is still pending when the kill comes."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import VigilProcess, wait_until
from tests.server.test_alert_state_kill import moment
from vigil.demo.process import start_target_process, stop_target_process
from vigil.demo.stack import demo_stack_yaml, write_demo_runbook

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[VigilProcess, str]]:
    """``vigil up`` on the demo's stack file and store, and the demo's target pinging it."""
    stack = tmp_path / "vigil.yaml"
    vigil = VigilProcess(stack, f"sqlite:///{tmp_path}/vigil.db")
    target, url = start_target_process(vigil_url=vigil.url)
    try:
        write_demo_runbook(tmp_path)
        text = demo_stack_yaml(url, vigil_url=vigil.url)
        assert text.count("[30s]") == 3
        # A restart longer than a rule's window leaves it nothing to evaluate, and its alerts end
        # (as in Prometheus): the windows outlast a slow start on a busy machine.
        assert text.count("for: 6s") == 2
        slow_rule = text.index("name: SlowP95")
        text = text[:slow_rule] + text[slow_rule:].replace("for: 6s", "for: 1m", 1)
        stack.write_text(text.replace("[30s]", "[2m]"))
        yield vigil, url
    finally:
        if vigil.proc is not None and vigil.proc.poll() is None:
            vigil.kill()
        stop_target_process(target)


def alerts(db: Path) -> dict[str, tuple[str, float, int | None]]:
    """Each kept alert's rule: (state, active since, incident), as on disk."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT rule, state, active_at, incident_id FROM alert_states").fetchall()
    return {rule: (state, moment(at), incident) for rule, state, at, incident in rows}


def open_incidents(db: Path) -> dict[int, str]:
    """The open incidents' keys, as on disk."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, key FROM incidents WHERE status != 'resolved'").fetchall()
    return dict(rows)


def pages(db: Path, incidents: Iterable[int]) -> list[tuple[int, str]]:
    """The triggering pages queued for ``incidents``: (incident, channel) for each."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT incident_id, channel FROM outbox WHERE event = 'triggered'").fetchall()
    return sorted((i, channel) for i, channel in rows if i in set(incidents))


def graph_times(vigil: VigilProcess, check: str) -> list[float]:
    """The times of the check's graph (latency) that have a point."""
    headers = {"Authorization": f"Bearer {vigil.token('viewer')}"}
    url = f"{vigil.url}/api/v1/graphs/checks/{check}"
    answer = httpx.get(url, params={"hours": 1}, headers=headers, timeout=10).json()
    latency = answer["lines"][0]["values"]
    return [t for t, v in zip(answer["times"], latency, strict=True) if v is not None]


def test_a_restart_of_vigil_up_keeps_the_demos_graphs_alerts_and_incidents(
    demo: tuple[VigilProcess, str], tmp_path: Path
) -> None:
    vigil, target = demo
    db = tmp_path / "vigil.db"
    vigil.start(wait=90)
    began = time.time()
    wait_until(lambda: vigil.api("/checks/api.health")["status"] == "ok", 30, "the demo to be healthy")

    httpx.post(f"{target}/chaos", json={"mode": "fail"}, timeout=5).raise_for_status()
    wait_until(lambda: alerts(db).get("HighErrorRate", ("",))[0] == "firing", 60, "HighErrorRate to fire")
    httpx.post(f"{target}/chaos", json={"mode": "slow", "latency_ms": 1500}, timeout=5).raise_for_status()
    # Killed once the p95 rule is pending and the log has written what made it so (a batch a
    # second, and a loaded machine's slack): its `for` (1 min) has not run out.
    wait_until(lambda: "SlowP95" in alerts(db), 60, "SlowP95 to be pending")
    time.sleep(3)
    killed_at = time.time()
    assert vigil.kill() == -9
    kept = alerts(db)
    assert kept["SlowP95"][0] == "pending"
    opened = open_incidents(db)
    assert kept["HighErrorRate"][2] in opened and len(opened) >= 2  # the rule's and the check's
    paged = pages(db, opened)
    assert paged
    before_kill = killed_at - 5.0  # points older than this were written, whatever the last batch lost

    vigil.start(wait=90)
    ready_again = time.time()
    time.sleep(4)  # two rule evaluations after the start
    after = alerts(db)
    assert after["SlowP95"][1] == kept["SlowP95"][1]  # pending since the same moment, not since the start
    assert after["HighErrorRate"][1:] == kept["HighErrorRate"][1:]  # the same incident, active as long
    listed = {i["id"]: i["status"] for i in vigil.api("/incidents")}
    assert all(listed[i] != "resolved" for i in opened)
    now_open = open_incidents(db)
    assert all(now_open[i] == key for i, key in opened.items())  # the same incidents…
    assert sorted(now_open.values()) == sorted(set(now_open.values()))  # …and no second one of any
    # No page again (an escalation's next step may page someone else, never the same twice).
    again = pages(db, opened)
    assert set(paged) <= set(again) and len(again) == len(set(again)), again

    # The graph's points are buckets of a few seconds: one after the restart comes with the next
    # bucket that holds a check result.
    wait_until(
        lambda: any(t > ready_again for t in graph_times(vigil, "api.health")),
        30,
        "a graph point after the restart",
    )
    assert [t for t in graph_times(vigil, "api.health") if t < before_kill]

    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: run scripts/install-peers.sh"
    window = ["--start", f"{began:.3f}", "--end", f"{time.time():.3f}", "--step", "2s"]
    header = ["--header", f"Authorization=Bearer {vigil.token('viewer')}"]
    query = 'sum(rate(http_requests_total{path="/health"}[30s]))'
    drawn = subprocess.run(
        [promtool, "query", "range", *header, f"{vigil.url}/prometheus", *window, query],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert drawn.returncode == 0, drawn.stderr
    points = [float(t) for t in re.findall(r"@\[(\d+(?:\.\d+)?)\]", drawn.stdout)]
    assert [t for t in points if t < before_kill] and [t for t in points if t > ready_again], drawn.stdout
