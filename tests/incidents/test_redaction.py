"""The stack file's redactor on the incident side: a value from the environment that reaches
an incident (an alert's summary, a responder's note) is shown as ``***`` in its timeline and in
the pages it sends."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.opening import OpenRequest
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.store.tables import OutboxRow

SECRET = "s3cr3t-token-value"


@pytest.mark.parametrize("batched", [False, True], ids=["open", "open_many"])
async def test_a_secret_in_an_alert_or_a_note_never_reaches_a_timeline_or_a_page(
    engine: AsyncEngine, batched: bool
) -> None:
    stack = parse_stack(
        "t.yaml",
        """
notify:
  channels: {hook: {webhook: "http://127.0.0.1:9/hook?key=${HOOK_KEY}"}}
  default: [hook]
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/"}
""",
        {"HOOK_KEY": SECRET},
    )
    incidents = IncidentService(engine, stack.model, FakeClock(), redact=stack.redactor)
    request = OpenRequest(
        key="alert:Leak:1",
        title=f"token {SECRET} rejected",
        severity=Severity.P2,
        service="api",
        check_id=None,
        reason=f"upstream said: bad key {SECRET}",
        channels=None,
        trigger=f"Leak firing (key={SECRET})",
        labels={"key": SECRET},
    )
    if batched:
        [incident] = await incidents.open_many([request])
    else:
        incident = await incidents.open(**vars(request))
    assert incident is not None
    if batched:
        await incidents.recover_many([("alert:Leak:1", f"cleared {SECRET}")])
    await incidents.add_note(incident.id, "alice", f"rotated {SECRET}")
    texts = [e.text for e in await incidents.timeline(incident.id)]
    async with engine.connect() as conn:
        payloads = (await conn.execute(select(OutboxRow.payload))).scalars().all()
    shown = repr(texts) + repr(payloads)
    assert SECRET not in shown
    assert "***" in texts[0] and "***" in payloads[0]["reason"] and payloads[0]["labels"]["key"] == "***"
