"""Alerts kept across a restart (fake clock, real store): a pending alert keeps the time it had
spent pending, a firing one stays firing on its incident and pages nobody again, and
``restore_for_grace`` holds back a long ``for`` as Prometheus' for-grace-period does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.alerting.conftest import Rules
from vigil.alerting.alert_states import restored_active_at
from vigil.alerting.alerts import AlertState
from vigil.incidents.model import EventKind
from vigil.store.tables import AlertStateRow, OutboxRow

STACK = """
notify: {channels: {log: {log: true}}, default: [log]}
alerts:
  - {name: Slow, expr: a > 1, for: 5m}
  - {name: Long, expr: b > 1, for: 10m}
  - {name: Now, expr: c > 1}
"""

Make = Callable[..., Rules]


@pytest.fixture
def kept(engine: AsyncEngine) -> Make:
    return lambda stack=STACK, keep="prod", grace=600.0: Rules(engine, stack, keep=keep, grace=grace)


def states(r: Rules) -> dict[str, AlertState]:
    return {a.rule: a.state for a in r.evaluator.alerts()}


async def rows(r: Rules) -> list[tuple[str, str, str, int | None]]:
    async with r.engine.connect() as conn:
        found = await conn.execute(
            select(AlertStateRow.stack, AlertStateRow.rule, AlertStateRow.state, AlertStateRow.incident_id)
        )
        return sorted(tuple(row) for row in found.all())


async def pages(r: Rules, event: str = "triggered") -> int:
    async with r.engine.connect() as conn:
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.event == event)
        return int((await conn.execute(query)).scalar_one())


@pytest.mark.parametrize(
    ("active_at", "seen_at", "start", "hold", "grace", "expected", "why"),
    [
        (0, 240, 260, 300, 600, 20, "for < grace: the pending time is kept, the downtime not counted"),
        (0, 240, 5000, 300, 600, 4760, "a long outage counts no more than a short one"),
        (0, 540, 560, 600, 120, 560 + 120 - 600, "for >= grace, 1m left: fires the grace after start"),
        (0, 300, 320, 600, 120, 20, "for >= grace, 5m left (more than the grace): downtime shifted"),
        (0, 310, 400, 300, 600, 0, "was due before the restart: fires at the first evaluation"),
        (0, 0, 30, 600, 600, 30, "for == grace, all of it left: the grace after start"),
    ],
)
def test_the_restored_active_time(
    active_at: float, seen_at: float, start: float, hold: float, grace: float, expected: float, why: str
) -> None:
    assert restored_active_at(active_at, seen_at, start, hold, grace) == pytest.approx(expected), why


async def test_a_for_5m_alert_pending_4m_fires_a_minute_after_the_restart(kept: Make) -> None:
    r = kept()
    r.samples["Slow"] = [({}, 2.0)]
    await r.step()  # pending from here
    for _ in range(4):
        await r.step(60)
    assert states(r) == {"Slow": AlertState.PENDING}

    r.restart()  # down for 20 s
    await r.step(20)
    assert states(r) == {"Slow": AlertState.PENDING}
    await r.step(45)
    assert await r.incidents.list() == []
    await r.step(15)  # 4 min before + 1 min after the start: 5 min pending
    assert states(r) == {"Slow": AlertState.FIRING}
    [incident] = await r.incidents.list()
    assert incident.opened_at == r.clock.now()
    assert await pages(r) == 1
    assert await rows(r) == [("prod", "Slow", "firing", incident.id)]  # written with its opening


async def test_a_restored_pending_alert_whose_condition_is_gone_is_dropped(kept: Make) -> None:
    r = kept()
    r.samples["Slow"] = [({}, 2.0)]
    await r.step()
    await r.step(240)
    r.samples["Slow"] = []
    r.restart()
    await r.step(20)
    assert states(r) == {}
    assert await rows(r) == []
    r.samples["Slow"] = [({}, 2.0)]  # back: pending afresh, a whole `for` from now
    await r.step()
    await r.step(285)
    assert states(r) == {"Slow": AlertState.PENDING}
    await r.step(15)
    assert states(r) == {"Slow": AlertState.FIRING}


async def test_a_for_at_least_the_grace_fires_no_sooner_than_the_grace_after_start(kept: Make) -> None:
    r = kept(grace=120.0)
    r.samples["Long"] = [({}, 2.0)]
    await r.step()
    await r.step(540)  # 9 of 10 minutes pending
    r.restart()
    await r.step(30)
    await r.step(105)
    assert states(r) == {"Long": AlertState.PENDING}  # the 1 minute left is not enough
    await r.step(15)  # 2 minutes after the start
    assert states(r) == {"Long": AlertState.FIRING}


async def test_a_firing_alert_stays_firing_on_its_incident_and_pages_nobody_again(kept: Make) -> None:
    r = kept()
    r.samples["Now"] = [({"path": "/a"}, 2.0)]
    await r.step()
    [incident] = await r.incidents.list()
    assert await pages(r) == 1
    lines = await r.lines(incident.id)

    r.restart()
    await r.step(30)
    await r.step()
    assert states(r) == {"Now": AlertState.FIRING}
    assert [i.id for i in await r.incidents.list()] == [incident.id]
    assert await r.lines(incident.id) == lines  # no "also … firing": it never stopped
    assert await pages(r) == 1
    assert await rows(r) == [("prod", "Now", "firing", incident.id)]

    r.samples["Now"] = []  # it clears: the incident resolves as usual, with one resolved page
    await r.step()
    assert await r.status(incident.id) == "resolved"
    assert await pages(r, "resolved") == 1
    assert await rows(r) == []
    assert len(await r.lines(incident.id, EventKind.RECOVERED)) == 1


async def test_stacks_sharing_a_store_restore_only_their_own_and_removed_rules_drop(kept: Make) -> None:
    prod, staging = kept(keep="prod"), kept(keep="staging")
    for r in (prod, staging):
        r.samples = {"Slow": [({}, 2.0)], "Long": [({}, 2.0)]}
        await r.step()
    assert [row[:3] for row in await rows(prod)] == [
        ("prod", "Long", "pending"),
        ("prod", "Slow", "pending"),
        ("staging", "Long", "pending"),
        ("staging", "Slow", "pending"),
    ]
    # staging restarts without its Long rule: its row goes, prod's stays and is not staging's.
    staging.restart([rule for rule in staging.stack.alerts if rule.name != "Long"])
    staging.samples = {"Slow": [({}, 2.0)]}
    await staging.step()
    assert states(staging) == {"Slow": AlertState.PENDING}
    assert [row[:3] for row in await rows(prod)] == [
        ("prod", "Long", "pending"),
        ("prod", "Slow", "pending"),
        ("staging", "Slow", "pending"),
    ]


async def test_without_kept_states_a_restart_starts_afresh(engine: AsyncEngine) -> None:
    r = Rules(engine, STACK)
    r.samples["Slow"] = [({}, 2.0)]
    await r.step()
    await r.step(240)
    r.restart()
    await r.step(20)
    await r.step(60)
    assert states(r) == {"Slow": AlertState.PENDING}
    assert await rows(r) == []


async def test_a_symptom_held_before_a_restart_still_pages_once_its_dependency_recovers(kept: Make) -> None:
    r = kept("""
notify: {channels: {log: {log: true}}, default: [log]}
alerts: [{name: Errors, expr: e > 1}]
""")
    postgres = await r.dependency_down("postgres")
    r.down["api"] = ("postgres", postgres)
    r.samples["Errors"] = [({"service": "api"}, 2.0)]
    await r.step()
    assert await r.rule_incidents() == []
    assert await rows(r) == [("prod", "Errors", "firing", None)]  # held: no incident of its own

    r.restart()
    await r.step()
    await r.step()
    assert await r.rule_incidents() == []  # held again, still no page
    await r.incidents.recover("check:postgres.ping", "postgres.ping passed again")
    del r.down["api"]
    await r.step()
    [incident] = [i for i in await r.incidents.list() if i.key.startswith("alert:")]
    assert await r.lines(incident.id, EventKind.TRIGGERED) == [
        "Errors firing (service=api): value 2; held as a symptom of postgres until postgres recovered"
    ]
    assert await rows(r) == [("prod", "Errors", "firing", incident.id)]
