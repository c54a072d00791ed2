"""The demo vendor's status page: a real Statuspage summary, all operational until
``vendor_outage``, which ``recover`` mends; the ``statuspage`` probe reads it as a real page."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from vigil.demo.target import create_target_app
from vigil.demo.vendor import OUTAGE_TITLE, summary_document
from vigil.probes.statuspage import Summary

SUMMARY = "/vendor/api/v2/summary.json"


@pytest.fixture
async def app_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_target_app(rng=random.Random(7)))
    async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
        yield client


async def summary(client: httpx.AsyncClient) -> Summary:
    response = await client.get(SUMMARY)
    assert response.status_code == 200
    return Summary.read(response.json(), SUMMARY)


async def test_the_vendor_page_is_operational_until_vendor_outage_and_recover_mends_it(
    app_client: httpx.AsyncClient,
) -> None:
    normal = await summary(app_client)
    assert (normal.indicator, normal.incidents, normal.notices) == ("none", 0, ())
    assert {c.name: c.status for c in normal.components} == {
        "API": "operational",
        "Dashboard": "operational",
        "Webhooks": "operational",
    }

    assert (await app_client.post("/chaos", json={"mode": "vendor_outage"})).json()["modes"] == [
        "vendor_outage"
    ]
    outage = await summary(app_client)
    assert (outage.indicator, outage.incidents) == ("major", 1)
    assert [str(c) for c in outage.components if c.status != "operational"] == ["API major outage"]
    assert [(n.kind, n.title, n.status) for n in outage.notices] == [
        ("incident", OUTAGE_TITLE, "investigating")
    ]
    assert outage.notices[0].components == frozenset({"api"})

    await app_client.post("/chaos", json={"mode": "recover"})
    assert (await app_client.get(SUMMARY)).json() == summary_document(outage=False)
    assert (await summary(app_client)) == normal
