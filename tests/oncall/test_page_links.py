"""Every page carries its acknowledge link: the mail a person gets and the webhook's body, each
its own; the outbox and the store never hold a link, only the hash of each."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from tests.notify.conftest import Receiver
from tests.oncall.conftest import START, Mailbox, escalation_stack, eventually, open_incident, running
from vigil.engine.clock import FakeClock
from vigil.store.database import open_database
from vigil.store.tables import AckLinkRow, OutboxRow


async def test_pages_carry_the_link_which_the_store_keeps_only_as_a_hash(
    tmp_path: Path, mailbox: Mailbox, receiver: Receiver
) -> None:
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    try:
        clock = FakeClock(START)
        async with running(engine, escalation_stack(mailbox, receiver.url), clock) as (runtime, client):
            incident = await open_incident(runtime)
            mail = (await eventually(lambda: mailbox.to("alice@example.com"), "alice's page"))[0]
            hooked = (await eventually(lambda: receiver.accepted, "the webhook's page"))[0][1]
            assert hooked["ack_url"].startswith("http://vigil.test/ack/vga_")
            assert mail.ack_link and mail.ack_link != hooked["ack_url"]
            async with engine.connect() as conn:
                stored = " ".join(str(v) for v in (await conn.execute(select(OutboxRow.payload))).scalars())
                hashes = list((await conn.execute(select(AckLinkRow.token_hash))).scalars())
            tokens = [mail.ack_link.rsplit("/", 1)[1], hooked["ack_url"].rsplit("/", 1)[1]]
            assert not any(token in stored for token in tokens) and len(hashes) == 2
            assert not any(token in h for token in tokens for h in hashes)

            # The webhook's link acknowledges for whoever reads that channel.
            path = httpx.URL(hooked["ack_url"]).path
            assert (await client.post(path)).status_code == 200
            after = await runtime.incidents.get(incident)
            assert after.acknowledged_by == "someone on hook"
    finally:
        await engine.dispose()


async def test_the_incident_page_shows_where_its_escalation_stands(
    tmp_path: Path, mailbox: Mailbox, receiver: Receiver
) -> None:
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    try:
        stack = escalation_stack(mailbox, receiver.url) + "server: {public_read: true}\n"
        async with running(engine, stack, FakeClock(START)) as (runtime, client):
            incident = await open_incident(runtime)
            await eventually(lambda: mailbox.to("alice@example.com"), "alice's page")
            page = (await client.get(f"/incidents/{incident}")).text
            assert "default: step 1 of 3, round 1 of 1" in page
            assert "next page" in page and "12:15:00 UTC" in page
            await runtime.incidents.acknowledge(incident, "alice")
            page = (await client.get(f"/incidents/{incident}")).text
            assert "(stopped: acknowledged by alice)" in page
    finally:
        await engine.dispose()
