"""A grouped message carries each of its pages' acknowledge links — in the text a person reads
and in the webhook's body — and each link acknowledges its own incident and no other. Through
the whole runtime, to a real webhook receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.notify.conftest import Mailbox, Receiver, open_incident
from tests.oncall.conftest import ACK_LINK, START, eventually, running
from vigil.engine.clock import FakeClock
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.server.runtime import Runtime
from vigil.store.database import open_database

STACK = """
notify:
  channels:
    hook: {{webhook: "{hook}", group_wait: 30s}}
    mail: {{apprise: "{mail}", group_wait: 30s}}
  default: [hook, mail]
"""


async def open_three(runtime: Runtime) -> list[int]:
    opened = []
    for name in ("api", "db", "cache"):
        given = {"key": f"check:{name}.health", "service": name, "check_id": f"{name}.health"}
        incident = await open_incident(
            runtime.incidents, **given, title=f"{name}.health is failing", severity=Severity.P2
        )
        opened.append(incident.id)
    return opened


async def statuses(runtime: Runtime, ids: list[int]) -> list[IncidentStatus]:
    return [(await runtime.incidents.get(i)).status for i in ids]


async def test_each_page_in_a_group_carries_its_own_link_which_acknowledges_only_its_incident(
    tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    clock = FakeClock(START)
    stack = STACK.format(hook=receiver.url, mail=mailbox.url("ops@example.com"))
    try:
        async with running(engine, stack, clock) as (runtime, client):
            ids = await open_three(runtime)
            await clock.advance(30)  # the window opens: one message per channel

            async def sent() -> bool:
                await clock.advance(1)  # a second at a time, for the worker's naps on this clock
                return bool(receiver.accepted and mailbox.messages)

            await eventually(sent, "the grouped webhook and mail")
            [(_, body)] = receiver.accepted
            [(_, text)] = mailbox.texts()

            assert body["event"] == "group" and body["count"] == 3
            listed = body["acknowledge"]
            assert [item["incident_id"] for item in listed] == ids
            assert [item["title"] for item in listed] == [
                f"{n}.health is failing" for n in ("api", "db", "cache")
            ]
            hook_links = [item["ack_url"] for item in listed]
            assert all(link.startswith("http://vigil.test/ack/vga_") for link in hook_links)
            assert [m["ack_url"] for m in body["messages"]] == hook_links
            # The text a person reads: each incident's line ends with its own link.
            lines = body["message"].splitlines()
            for line, incident, link in zip(lines, ids, hook_links, strict=True):
                assert line.endswith(f"/incidents/{incident} \u2014 acknowledge: {link}")
            mail_links = ACK_LINK.findall(text)
            assert len(mail_links) == 3 and not set(mail_links) & set(hook_links)  # each send its own
            for incident, mail_line in zip(
                ids, [ln for ln in text.splitlines() if "/ack/" in ln], strict=True
            ):
                assert f"/incidents/{incident} " in mail_line

            # Opening a link shows its own incident; pressing its button acknowledges that one only.
            for n, (incident, link) in enumerate(zip(ids, hook_links, strict=True)):
                path = httpx.URL(link).path
                shown = await client.get(path, headers={"Accept": "application/json"})
                assert shown.json()["incident"]["id"] == incident
                assert await statuses(runtime, ids) == [IncidentStatus.ACKNOWLEDGED] * n + [
                    IncidentStatus.TRIGGERED
                ] * (3 - n)  # looking acknowledged nothing
                assert (await client.post(path)).status_code == 200
                assert await statuses(runtime, ids) == [IncidentStatus.ACKNOWLEDGED] * (n + 1) + [
                    IncidentStatus.TRIGGERED
                ] * (2 - n)
                assert (await runtime.incidents.get(incident)).acknowledged_by == "someone on hook"
            # The mail's links are for the same incidents, acknowledged already.
            refused = await client.post(httpx.URL(mail_links[1]).path, headers={"Accept": "application/json"})
            assert (
                refused.status_code == 409
                and f"incident {ids[1]} is acknowledged already" in refused.json()["error"]
            )
    finally:
        await engine.dispose()
