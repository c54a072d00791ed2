"""The stored escalation state on its own: an escalation started again (its incident triggered
anew) pages under new keys, and the API's view says which step was paged last."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.oncall.conftest import START, Mailbox, escalation_stack
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.oncall import escalation
from vigil.oncall.escalator import Escalator
from vigil.oncall.service import OnCall
from vigil.store.database import open_database
from vigil.store.tables import OutboxRow


async def test_an_escalation_started_again_pages_under_new_keys_and_its_view_follows(tmp_path: Path) -> None:
    stack = parse_stack("vigil.yaml", escalation_stack(Mailbox(), "http://127.0.0.1:9/hook"), {})
    clock = FakeClock(START)
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    try:
        incidents = IncidentService(engine, stack.model, clock)
        escalator = Escalator(engine, incidents, OnCall(stack), clock)
        opened = await incidents.open(
            key="check:api.health",
            title="api.health is failing",
            severity=Severity.P1,
            service="api",
            check_id=None,
            reason="down",
            channels=[],
            trigger="down",
        )
        assert opened is not None
        [before] = (await escalation.views(engine, stack.model, [opened.id])).values()
        assert (before["step"], before["round"], before["next_page_at"]) == (0, 1, START.isoformat())
        assert await escalator.run_once() == 1
        [after] = (await escalation.views(engine, stack.model, [opened.id])).values()
        assert (after["step"], after["steps"], after["round"], after["rounds"]) == (1, 3, 1, 1)

        async with engine.begin() as conn:  # as a reopen does: the same incident triggers anew
            await escalation.start(conn, opened.id, "default", {"service": "api"}, clock.now())
        assert await escalator.run_once() == 1
        async with engine.connect() as conn:
            keys = sorted((await conn.execute(select(OutboxRow.key))).scalars())
        assert len(keys) == 2 and keys[0] != keys[1]
        assert all(k.startswith("incident-") and "-escalation.r1.s1" in k for k in keys)
        assert any(".s1.n1-person:alice/" in k for k in keys)
    finally:
        await engine.dispose()
