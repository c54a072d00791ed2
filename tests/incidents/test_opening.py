"""Opening many incidents at once: the same incidents, timelines and pages as one ``open`` per
group, in one transaction per chunk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import Incident
from vigil.incidents.opening import OpenRequest
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.store.tables import OutboxRow


def request(
    key: str, trigger: str, *, also: tuple[str, ...] = (), severity: Severity = Severity.P2
) -> OpenRequest:
    return OpenRequest(
        key=key,
        title=f"{key} firing",
        severity=severity,
        service="api",
        check_id=None,
        reason="errors > 0.05",
        channels=None,
        trigger=trigger,
        labels={"alertname": key.split(":")[1], "path": trigger},
        also=also,
        join=True,
    )


# A group already open (joins), two new groups, and a second request for one of them in the
# same batch (joins the incident the batch just opened).
REQUESTS = [
    request("alert:Old:a", "old again"),
    request("alert:New:b", "b fired", also=("b2 fired",)),
    request("alert:New:c", "c fired", severity=Severity.P1),
    request("alert:New:b", "b3 fired", also=("b4 fired",)),
]


async def state(incidents: IncidentService, engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
    """Every incident with its timeline, and every outbox row, without ids or times."""
    shown = []
    for incident in sorted(await incidents.list(limit=1000), key=lambda i: i.id):
        lines = [(e.kind, e.text, e.actor) for e in await incidents.timeline(incident.id)]
        shown.append((incident.key, incident.title, incident.severity, incident.channels, lines))
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow).order_by(OutboxRow.id))).all()
    pages = [(r.channel, r.event, r.payload["title"], r.payload.get("labels")) for r in rows]
    return shown, pages


@contextmanager
def commits(engine: AsyncEngine) -> Iterator[list[int]]:
    counted: list[int] = []

    def on_commit(_conn: Any) -> None:
        counted.append(1)

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)


async def test_open_many_opens_and_joins_as_open_does_one_by_one(
    engine: AsyncEngine, stack: Stack, clock: FakeClock
) -> None:
    incidents = IncidentService(engine, stack.model, clock, dashboard_url="http://vigil.test")
    await incidents.open(**asdict(request("alert:Old:a", "old fired")))
    one_by_one = [await incidents.open(**asdict(r)) for r in REQUESTS]
    expected = await state(incidents, engine)
    for incident in await incidents.list(limit=1000):
        await incidents.resolve(incident.id, "test")
    baseline = await state(incidents, engine)

    await incidents.open(**asdict(request("alert:Old:a", "old fired")))
    with commits(engine) as counted:
        batched = await incidents.open_many(REQUESTS)
    assert len(counted) == 1
    assert [i is None for i in batched] == [i is None for i in one_by_one] == [True, False, False, True]
    assert [i.key for i in batched if isinstance(i, Incident)] == ["alert:New:b", "alert:New:c"]
    for opened in batched:
        assert opened is None or opened == await incidents.get(opened.id)
    shown, pages = await state(incidents, engine)
    old_shown, old_pages = baseline
    # What the batch added, resolved lines aside, is what opening one by one added.
    added = [(key, title, sev, ch, lines) for key, title, sev, ch, lines in shown[len(old_shown) :]]
    assert added == expected[0]
    assert pages[len(old_pages) :] == [p for p in expected[1] if p[1] == "triggered"]


async def test_a_storm_of_groups_opens_in_a_few_transactions(
    engine: AsyncEngine, stack: Stack, clock: FakeClock
) -> None:
    incidents = IncidentService(engine, stack.model, clock)
    storm = [request(f"alert:Storm:{n}", f"{n} fired") for n in range(450)]
    with commits(engine) as counted:
        opened = await incidents.open_many(storm)
    assert len(counted) == 3  # chunks of 200
    assert sum(i is not None for i in opened) == 450
    assert await incidents.open_count() == 450
    again = await incidents.open_many(storm[:10])
    assert again == [None] * 10
