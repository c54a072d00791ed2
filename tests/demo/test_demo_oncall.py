"""The demo's on-call story, end to end: Vigil's runtime on a fake clock watches the real demo
target (a process of its own) through the demo stack file; breaking the target opens an
incident, the person on call is paged into the target's inbox with an acknowledge link, nobody
acknowledges so the secondary is paged a minute later, the secondary's link acknowledges and
the escalation stops; then an update, a note and a recovery give a postmortem to read.

Pages travel for real: Apprise posts them (``json://``) to the target's ``/inbox``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.incidents.test_postmortem import SECTIONS
from tests.oncall.conftest import eventually, running
from vigil.demo.stack import DEMO_POLICY, demo_stack_yaml, write_demo_runbook
from vigil.engine.clock import FakeClock
from vigil.incidents.model import Incident
from vigil.incidents.postmortem import draft
from vigil.incidents.severity import IncidentStatus
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.server.runtime import Runtime
from vigil.store.database import open_database

# A Wednesday, 12:00 UTC: alice's day as primary on the demo's daily rotation, bob secondary.
START = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
TICK = 2.0  # the demo's checks run every 2s


@dataclass
class Demo:
    runtime: Runtime
    client: httpx.AsyncClient  # Vigil's app
    target: httpx.AsyncClient  # the demo target
    clock: FakeClock

    async def tick(self, seconds: float = TICK) -> None:
        """Let ``seconds`` of the demo pass, a check interval at a time, each probe answered."""
        for _ in range(max(1, round(seconds / TICK))):
            await self.clock.advance(TICK)
            await eventually(lambda: not self.runtime.scheduler._tasks, "the probes to answer", 5)

    async def until(self, check: Callable[[], Awaitable[Any]], what: str, seconds: float = 20.0) -> Any:
        """``check()``'s first truthy answer, letting the demo run a tick at a time meanwhile."""
        for _ in range(round(seconds / TICK)):
            if answer := await check():
                return answer
            await self.tick()
        raise AssertionError(f"no {what} within {seconds:g}s of the demo")

    async def pages(self, incident_id: int) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self.target.get("/inbox.json")).json()["pages"]
        return [p for p in listed[::-1] if p["incident_id"] == incident_id and p["type"] == "failure"]


@pytest.fixture
async def demo(target_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Demo]:
    monkeypatch.chdir(tmp_path)  # where the stack file's runbook is read from
    write_demo_runbook(tmp_path)
    stack = demo_stack_yaml(target_url) + "server: {public_read: true}\n"
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    async with httpx.AsyncClient(base_url=target_url, timeout=10) as target:
        await target.post("/chaos", json={"mode": "recover"})
        try:
            async with running(engine, stack, FakeClock(START)) as (runtime, client):
                yield Demo(runtime, client, target, runtime.clock)  # type: ignore[arg-type]
        finally:
            await target.post("/chaos", json={"mode": "recover"})
            await engine.dispose()


async def check_incident(demo: Demo) -> Incident | None:
    found = [i for i in await demo.runtime.incidents.list() if i.check == "api.health"]
    return found[0] if found else None


async def broken_and_acknowledged(demo: Demo) -> Incident:
    """Break the target, let alice's page go unanswered for a minute, acknowledge bob's."""
    await demo.target.post("/chaos", json={"mode": "fail"})
    incident: Incident = await demo.until(lambda: check_incident(demo), "incident for api.health", 30)

    first = await eventually(lambda: demo.pages(incident.id), "the primary's page in the inbox")
    assert [p["person"] for p in first] == ["alice"]
    assert first[0]["title"] == "[P1 TRIGGERED] api.health is failing"
    assert first[0]["ack_url"].startswith("http://vigil.test/ack/vga_")
    page = (await demo.client.get(f"/incidents/{incident.id}")).text
    assert f"{DEMO_POLICY}: step 1 of 3, round 1 of 2" in page and "next page" in page

    await demo.tick(58)  # nobody acknowledges
    pages = await demo.until(lambda: _two(demo.pages(incident.id)), "the secondary's page a minute later")
    assert [p["person"] for p in pages] == ["alice", "bob"]
    page = (await demo.client.get(f"/incidents/{incident.id}")).text
    assert f"{DEMO_POLICY}: step 2 of 3, round 1 of 2" in page

    link = httpx.URL(pages[1]["ack_url"]).path
    shown = await demo.client.get(link)
    assert shown.status_code == 200 and "Acknowledge as bob" in shown.text
    assert (await demo.runtime.incidents.get(incident.id)).status is IncidentStatus.TRIGGERED
    done = await demo.client.post(link)
    assert done.status_code == 200 and "its escalation has stopped" in done.text
    return await demo.runtime.incidents.get(incident.id)


async def resolved(demo: Demo, incident_id: int) -> Incident | None:
    incident = await demo.runtime.incidents.get(incident_id)
    return None if incident.is_open else incident


async def _two(found: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]] | None:
    pages = await found
    return pages if len(pages) >= 2 else None


@pytest.mark.slow
async def test_the_on_call_person_is_paged_nobody_answers_the_secondary_acknowledges_from_the_inbox(
    demo: Demo,
) -> None:
    incident = await broken_and_acknowledged(demo)
    assert (incident.status, incident.acknowledged_by) == (IncidentStatus.ACKNOWLEDGED, "bob")
    page = (await demo.client.get(f"/incidents/{incident.id}")).text
    assert "(stopped: acknowledged by bob)" in page

    updates = StatusUpdates(demo.runtime.incidents)
    await updates.post(
        incident.id,
        UpdateStatus.INVESTIGATING,
        "Every health check answers 500; looking at the error rate",
        "bob",
        impact="Every answer fails",
    )
    await demo.runtime.incidents.add_note(incident.id, "bob", "The chaos switch is on: fail mode")
    await demo.tick(70)  # carol's step would have come by now
    assert [p["person"] for p in await demo.pages(incident.id)] == ["alice", "bob"]

    await demo.target.post("/chaos", json={"mode": "recover"})
    incident = await demo.until(lambda: resolved(demo, incident.id), "recovery")
    assert incident.resolved_by == "vigil"

    text = (await draft(demo.runtime.stack, demo.runtime.incidents, incident.id)).markdown
    assert [line for line in text.splitlines() if line.startswith("## ")] == SECTIONS
    assert (
        "alice (schedule primary) was paged first; nobody answered, so the escalation went on to bob "
        "(schedule secondary), and bob acknowledged it after 1 minute, within the P1 target of 5 minutes. "
        "Vigil resolved it when api.health passed again."
    ) in text
    assert "| Time to acknowledge | 1m | 5m | met |" in text
    assert "| Time to resolve | 2m | 30m | met |" in text
    assert f"Paged by escalation policy `{DEMO_POLICY}`, in order:" in text
    assert "| 12:01 | acknowledged | bob | acknowledged by bob |" in text
    assert "| 12:01 | note | bob | The chaos switch is on: fail mode |" in text
    assert "**Impact as stated during the incident:** Every answer fails" in text
    assert "- `api.health` (http): failed " in text
