"""``vigil up`` end to end: a real target breaks, an incident opens, the webhook is paged,
recovery resolves it — and a ``kill -9`` at the worst moment loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Switch, served, wait_until


def stack(target: Switch, receiver: Switch) -> str:
    return f"""
notify:
  channels:
    hook: {{webhook: "{receiver.url}/hook"}}
  default: [hook]
services:
  api:
    checks:
      health:
        http: {target.url}/health
        expect: {{json: {{status: healthy}}}}
        every: 500ms
        timeout: 2s
        alert: {{after: 2, severity: P1}}
"""


def incidents(vigil: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = vigil.api("/incidents")
    return result


def test_a_broken_target_opens_pages_and_resolves_one_incident(
    target: Switch, receiver: Switch, vigil_up: Any
) -> None:
    vigil = vigil_up(stack(target, receiver))
    vigil.start()
    wait_until(lambda: vigil.api("/services")[0]["status"] == "ok", 10, "the check to pass")

    target.healthy = False
    wait_until(lambda: incidents(vigil), 10, "an incident")
    [incident] = incidents(vigil)
    assert incident["status"] == "triggered"
    assert incident["check"] == "api.health"
    assert incident["severity"] == "P1"
    assert incident["reason"] == 'status 500, expected 2xx; json status == "unhealthy", expected "healthy"'
    wait_until(lambda: ("triggered", incident["id"]) in receiver.events(), 10, "the page")

    target.healthy = True
    wait_until(lambda: incidents(vigil)[0]["status"] == "resolved", 10, "recovery")
    wait_until(lambda: ("resolved", incident["id"]) in receiver.events(), 10, "the resolved notice")
    detail = vigil.api(f"/incidents/{incident['id']}")
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:1] == ["triggered"]
    assert "recovered" in kinds and "resolved" in kinds
    assert receiver.events().count(("triggered", incident["id"])) == 1
    assert vigil.kill(signal.SIGTERM) == 0


@pytest.mark.slow
def test_kill_9_between_incident_and_page_still_pages_once_after_restart(
    target: Switch, receiver: Switch, vigil_up: Any
) -> None:
    vigil = vigil_up(stack(target, receiver))
    vigil.start()
    receiver.accepting = False  # the page cannot leave yet: it waits in the outbox
    target.healthy = False
    wait_until(lambda: incidents(vigil), 10, "an incident")
    vigil.kill(signal.SIGKILL)

    receiver.accepting = True
    vigil.start()
    # A send cut off by the kill holds its lease (30 s) before another attempt may take it.
    wait_until(receiver.events, 45, "the page after restart")
    [incident] = incidents(vigil)
    wait_until(lambda: len(receiver.events()) >= 1, 5, "delivery")
    assert receiver.events() == [("triggered", incident["id"])]
    assert len(incidents(vigil)) == 1


@pytest.mark.slow
def test_kill_9_before_the_incident_opens_it_once_after_restart(
    target: Switch, receiver: Switch, vigil_up: Any
) -> None:
    vigil = vigil_up(stack(target, receiver).replace("after: 2", "after: 4"))
    vigil.start()
    target.healthy = False
    wait_until(lambda: vigil.api("/checks/api.health")["status"] == "failing", 10, "a first failure")
    vigil.kill(signal.SIGKILL)
    vigil.start()
    wait_until(receiver.events, 15, "the page after restart")
    assert len(incidents(vigil)) == 1
    assert receiver.events() == [("triggered", incidents(vigil)[0]["id"])]


async def test_livez_is_ok_for_a_stack_of_only_metrics_and_rules(tmp_path: Path) -> None:
    rules_only = """
alerts:
  - name: Up
    expr: up == 0
    severity: P3
"""
    async with served(tmp_path, rules_only, start=True) as (client, runtime, clock):
        for _ in range(30):
            await clock.advance(1)
        answer = await client.get("/livez")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})

        # A scheduler task that died is dead at once, not five seconds later.
        [scheduler] = [t for t in runtime._tasks if t.get_name() == "vigil-scheduler"]
        scheduler.cancel()
        await asyncio.sleep(0)
        assert (await client.get("/livez")).status_code == 503


async def test_livez_is_ok_while_every_slot_waits_out_a_timeout(tmp_path: Path, silent_port: int) -> None:
    busy = "engine: {concurrency: 1, jitter: 0}\nservices:\n  api:\n    checks:\n" + "".join(
        f"      c{i}: {{http: 'http://127.0.0.1:{silent_port}/', every: 60s, timeout: 2s}}\n"
        for i in range(3)
    )
    async with served(tmp_path, busy, start=True) as (client, _runtime, clock):
        for _ in range(30):
            await clock.advance(1)
        answer = await client.get("/livez")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        assert (await client.get("/readyz")).status_code == 200
