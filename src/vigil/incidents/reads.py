"""Reading incidents: one, a list, the open ones by check or key, a timeline.

``IncidentService`` changes incidents and inherits these reads, so the API, the dashboard and
the CLI ask one object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.config.stack import CheckSpec
from vigil.errors import NotFoundError
from vigil.incidents.model import Incident, TimelineEntry, utc
from vigil.incidents.severity import IncidentStatus
from vigil.store.tables import (
    ChecklistTickRow,
    IncidentEventRow,
    IncidentKeyRow,
    IncidentRow,
    TargetMissRow,
)

Row = TypeVarTuple("Row")
OPEN = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED)


def check_key(check_id: str) -> str:
    return f"check:{check_id}"


def merged_open(query: Select[*Row], keys: Sequence[str]) -> Select[*Row]:
    """``query`` (over incidents) narrowed to the open incidents that ``keys`` were merged into."""
    return query.join(IncidentKeyRow, IncidentKeyRow.incident_id == IncidentRow.id).where(
        IncidentKeyRow.key.in_(list(keys)), IncidentRow.status.in_([str(s) for s in OPEN])
    )


def acted_on(stack_id: str | None) -> ColumnElement[bool]:
    """The incidents a stack file's background work (its escalations) acts on: its own, and
    those of no stack (opened from the shell, or before 0011); every one when ``stack_id`` is None."""
    if stack_id is None:
        return true()
    return or_(IncidentRow.stack == stack_id, IncidentRow.stack.is_(None))


def check_group_key(service: str) -> str:
    """The key of the one incident a service's grouped failing checks share."""
    return f"check-group:{service}"


def check_incident_key(spec: CheckSpec) -> str:
    """The key of the incident a failing check opens or joins (see ``AlertPolicy.group``)."""
    grouped = spec.config.alert is not None and spec.config.alert.group
    return check_group_key(spec.service) if grouped else check_key(spec.id)


class IncidentReads:
    engine: AsyncEngine
    # The stack file these incidents are of (``Stack.identity``), set by ``vigil up``: it is
    # written on each incident opened, and what runs on its own at start (``incidents.gone``,
    # the rule evaluator's leftovers, the escalator) acts on that stack's incidents only. None
    # (the shell) reads and acts on every incident.
    stack_id: str | None = None

    async def get(self, incident_id: int) -> Incident:
        async with self.engine.connect() as conn:
            incident = await self._get(conn, incident_id)
            return replace(incident, missed=(await self._missed(conn, [incident_id])).get(incident_id, ()))

    async def ticks(self, incident_id: int) -> dict[str, tuple[str, datetime]]:
        """The incident's ticked checklist items: item → (who, when)."""
        query = select(ChecklistTickRow).where(ChecklistTickRow.incident_id == incident_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.item: (r.done_by, utc(r.done_at)) for r in rows}

    async def merged_here(self, incident_id: int) -> list[int]:
        """The incidents merged into this one, oldest first."""
        query = select(IncidentRow.id).where(IncidentRow.merged_into == incident_id).order_by(IncidentRow.id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def timeline(self, incident_id: int) -> list[TimelineEntry]:
        query = (
            select(IncidentEventRow)
            .where(IncidentEventRow.incident_id == incident_id)
            .order_by(IncidentEventRow.at, IncidentEventRow.id)
        )
        async with self.engine.connect() as conn:
            await self._get(conn, incident_id)
            return [TimelineEntry.from_row(r) for r in (await conn.execute(query)).all()]  # type: ignore[arg-type]

    async def list(
        self,
        *,
        status: Sequence[IncidentStatus] = (),
        service: str | None = None,
        severity: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Open incidents first (newest first), then resolved ones, newest first."""
        query = select(IncidentRow)
        if status:
            query = query.where(IncidentRow.status.in_([str(s) for s in status]))
        if service:
            query = query.where(IncidentRow.service == service)
        if severity:
            query = query.where(IncidentRow.severity == str(severity))
        resolved_last = (IncidentRow.status == str(IncidentStatus.RESOLVED)).asc()
        query = query.order_by(resolved_last, IncidentRow.opened_at.desc(), IncidentRow.id.desc())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit).offset(offset))).all()
            missed = await self._missed(conn, [r.id for r in rows])
        return [Incident.from_row(r, missed.get(r.id, ())) for r in rows]  # type: ignore[arg-type]

    async def open_by_check(self) -> dict[str, Incident]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(IncidentRow).where(IncidentRow.status.in_([str(s) for s in OPEN])))
            ).all()
        return {r.check_id: Incident.from_row(r) for r in rows if r.check_id}  # type: ignore[arg-type]

    async def open_keys(self, prefix: str) -> tuple[str, ...]:
        """The keys of this stack file's open incidents that start with ``prefix`` (``alert:``
        for rule incidents): what the rule evaluator settles after a start."""
        query = select(IncidentRow.key).where(
            IncidentRow.key.startswith(prefix, autoescape=True),
            IncidentRow.status.in_([str(s) for s in OPEN]),
        )
        if self.stack_id is not None:
            query = query.where(IncidentRow.stack == self.stack_id)
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).scalars())

    async def open_for(self, check_id: str) -> Incident | None:
        """The open incident a check's failures go to: its own, else its service's shared one."""
        own = await self.open_with_key(check_key(check_id))
        return own or await self.open_with_key(check_group_key(check_id.split(".", 1)[0]))

    async def open_with_key(self, key: str) -> Incident | None:
        async with self.engine.connect() as conn:
            row = await self._open_row(conn, key)
        return Incident.from_row(row) if row is not None else None

    async def open_count(self) -> int:
        query = (
            select(func.count())
            .select_from(IncidentRow)
            .where(IncidentRow.status.in_([str(s) for s in OPEN]))
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    # --- inside a transaction ------------------------------------------------------------

    async def _open_row(self, conn: AsyncConnection, key: str) -> Any:
        """The open incident of ``key``, or the open one its incident was merged into."""
        query = select(IncidentRow).where(
            IncidentRow.key == key, IncidentRow.status.in_([str(s) for s in OPEN])
        )
        row = (await conn.execute(query)).first()
        if row is not None:
            return row
        return (await conn.execute(merged_open(select(IncidentRow), [key]))).first()

    async def _missed(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        query = (
            select(TargetMissRow.incident_id, TargetMissRow.target)
            .where(TargetMissRow.incident_id.in_(list(ids)))
            .order_by(TargetMissRow.id)
        )
        missed: dict[int, tuple[str, ...]] = {}
        for incident_id, target in (await conn.execute(query)).all():
            missed[incident_id] = (*missed.get(incident_id, ()), target)
        return missed

    async def _get(self, conn: AsyncConnection, incident_id: int) -> Incident:
        row = (await conn.execute(select(IncidentRow).where(IncidentRow.id == incident_id))).first()
        if row is None:
            raise NotFoundError(f"no incident {incident_id}")
        return Incident.from_row(row)  # type: ignore[arg-type]
