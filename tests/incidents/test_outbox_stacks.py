"""The pages an incident service queues carry its stack file (``stack_id``), so that only that
stack's worker sends them; a service of no stack (the shell) queues pages any worker sends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.incidents.test_opening import REQUESTS
from tests.notify.conftest import open_incident
from vigil.incidents.service import IncidentService
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.store.tables import OutboxRow


async def stacks(engine: AsyncEngine) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(OutboxRow.event, OutboxRow.stack).order_by(OutboxRow.id))
    return [(event, stack) for event, stack in rows.all()]


async def test_triggers_updates_acknowledgements_and_resolves_carry_the_stack_that_queued_them(
    incidents: IncidentService, engine: AsyncEngine
) -> None:
    incidents.stack_id = "payments"
    incident = await open_incident(incidents)
    await StatusUpdates(incidents).post(incident.id, UpdateStatus.IDENTIFIED, "a bad deploy", "alice")
    await incidents.acknowledge(incident.id, "alice")
    await incidents.resolve(incident.id, "alice")
    await incidents.open_many(REQUESTS)
    queued = await stacks(engine)
    assert {event for event, _ in queued} == {"triggered", "update", "acknowledged", "resolved"}
    assert {stack for _, stack in queued} == {"payments"}


async def test_pages_queued_from_the_shell_have_no_stack(
    incidents: IncidentService, engine: AsyncEngine
) -> None:
    await open_incident(incidents)
    assert {stack for _, stack in await stacks(engine)} == {None}
