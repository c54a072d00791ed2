"""``/ack/<token>``: the link a page carries acknowledges its incident once, for the person
paged, without signing in; a spent, forged or expired link, or a resolved incident, is refused
with a clear 403 or 409 and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.oncall.conftest import open_incident
from tests.server.conftest import served
from vigil.incidents.severity import IncidentStatus
from vigil.server.runtime import Runtime
from vigil.store.tables import AckLinkRow

STACK = "services: {}\n"
JSON = {"Accept": "application/json"}


async def issued(runtime: Runtime, actor: str = "erin") -> tuple[int, str]:
    incident = await open_incident(runtime)
    return incident, await runtime.ack_links.issue(incident, actor)


async def test_get_only_asks_and_post_acknowledges_for_the_person_paged(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        incident, token = await issued(runtime)
        shown = await client.get(f"/ack/{token}")
        assert shown.status_code == 200
        assert "Acknowledge as erin" in shown.text and "api.health is failing" in shown.text
        # A mail scanner fetching the link acknowledges nothing.
        assert (await runtime.incidents.get(incident)).status is IncidentStatus.TRIGGERED
        assert "set-cookie" not in shown.headers  # the link signs no one in

        done = await client.post(f"/ack/{token}")
        assert done.status_code == 200 and "Acknowledged" in done.text
        after = await runtime.incidents.get(incident)
        assert (after.status, after.acknowledged_by) == (IncidentStatus.ACKNOWLEDGED, "erin")
        assert "acknowledged by erin" in [e.text for e in await runtime.incidents.timeline(incident)]


async def test_a_link_acknowledges_once(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        _, token = await issued(runtime)
        assert (await client.post(f"/ack/{token}", headers=JSON)).status_code == 200
        again = await client.post(f"/ack/{token}", headers=JSON)
        assert again.status_code == 409
        assert "used already" in again.json()["error"]
        page = await client.get(f"/ack/{token}")
        assert page.status_code == 409 and "used already" in page.text


@pytest.mark.parametrize(
    "forged",
    ["vga_" + "A" * 43, "not-a-token", "vga_" + "x" * 500, "vgl_" + "A" * 43],
    ids=["unknown", "garbage", "too-long", "an-api-token-shape"],
)
async def test_a_forged_link_is_refused_and_changes_nothing(tmp_path: Path, forged: str) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        incident, _ = await issued(runtime)
        for method in ("GET", "POST"):
            answer = await client.request(method, f"/ack/{forged}", headers=JSON)
            assert answer.status_code == 403, answer.text
            assert answer.json() == {
                "error": "this acknowledge link is not one Vigil sent; acknowledge from the dashboard instead"
            }
        assert (await runtime.incidents.get(incident)).status is IncidentStatus.TRIGGERED


async def test_an_expired_link_is_refused(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        incident, token = await issued(runtime)
        await clock.advance(24 * 3600 + 1)
        answer = await client.post(f"/ack/{token}")
        assert answer.status_code == 403
        assert "expired at 2026-01-02 00:00 UTC" in answer.text
        assert (await runtime.incidents.get(incident)).status is IncidentStatus.TRIGGERED


async def test_a_resolved_incident_cannot_be_acknowledged_and_the_link_stays_unspent(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        incident, token = await issued(runtime)
        await runtime.incidents.resolve(incident, "bob")
        answer = await client.post(f"/ack/{token}", headers=JSON)
        assert answer.status_code == 409
        assert (
            answer.json()["error"] == f"incident {incident} is resolved; there is nothing left to acknowledge"
        )
        after = await runtime.incidents.get(incident)
        assert (after.status, after.acknowledged_by) == (IncidentStatus.RESOLVED, None)
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(AckLinkRow.used_at))).scalar_one() is None


async def test_an_incident_acknowledged_by_someone_else_is_a_conflict(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        incident, token = await issued(runtime)
        await runtime.incidents.acknowledge(incident, "bob")
        answer = await client.post(f"/ack/{token}", headers=JSON)
        assert answer.status_code == 409
        assert answer.json()["error"] == f"incident {incident} is acknowledged already (by bob)"


async def test_a_form_posted_from_another_site_is_refused(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        incident, token = await issued(runtime)
        answer = await client.post(f"/ack/{token}", headers={"Origin": "https://evil.example"})
        assert answer.status_code == 403
        assert (await runtime.incidents.get(incident)).status is IncidentStatus.TRIGGERED
        assert (
            await client.post(f"/ack/{token}", headers={"Origin": "http://vigil.test"})
        ).status_code == 200


async def test_guessing_links_is_answered_429_after_twenty_misses(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        _, token = await issued(runtime)
        for n in range(20):
            assert (await client.post(f"/ack/vga_guess{n}", headers=JSON)).status_code == 403
        limited = await client.post(f"/ack/{token}", headers=JSON)  # even a right one, now
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
