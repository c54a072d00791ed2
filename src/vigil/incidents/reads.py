"""Reading incidents: one, a list, the open ones by check or key, a timeline.

``IncidentService`` changes incidents and inherits these reads, so the API, the dashboard and
the CLI ask one object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.config.stack import CheckSpec
from vigil.errors import NotFoundError
from vigil.incidents.model import Incident, TimelineEntry
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.store.tables import IncidentEventRow, IncidentRow

OPEN = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)


def check_key(check_id: str) -> str:
    return f"check:{check_id}"


def check_group_key(service: str) -> str:
    """The key of the one incident a service's grouped failing checks share."""
    return f"check-group:{service}"


def incident_key(spec: CheckSpec) -> str:
    """The key of the incident a failing check opens or joins (see ``AlertPolicy.group``)."""
    grouped = spec.config.alert is not None and spec.config.alert.group
    return check_group_key(spec.service) if grouped else check_key(spec.id)


class IncidentReads:
    engine: AsyncEngine

    async def get(self, incident_id: int) -> Incident:
        async with self.engine.connect() as conn:
            return await self._get(conn, incident_id)

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
        severity: Severity | None = None,
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
        return [Incident.from_row(r) for r in rows]  # type: ignore[arg-type]

    async def open_by_check(self) -> dict[str, Incident]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(IncidentRow).where(IncidentRow.status.in_([str(s) for s in OPEN])))
            ).all()
        return {r.check_id: Incident.from_row(r) for r in rows if r.check_id}  # type: ignore[arg-type]

    async def open_keys(self, prefix: str) -> tuple[str, ...]:
        """The keys of open incidents that start with ``prefix`` (``alert:`` for rule incidents)."""
        query = select(IncidentRow.key).where(
            IncidentRow.key.startswith(prefix, autoescape=True),
            IncidentRow.status.in_([str(s) for s in OPEN]),
        )
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).scalars())

    async def open_for(self, check_id: str) -> Incident | None:
        return await self.open_with_key(check_key(check_id))

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
        query = select(IncidentRow).where(
            IncidentRow.key == key, IncidentRow.status.in_([str(s) for s in OPEN])
        )
        return (await conn.execute(query)).first()

    async def _get(self, conn: AsyncConnection, incident_id: int) -> Incident:
        row = (await conn.execute(select(IncidentRow).where(IncidentRow.id == incident_id))).first()
        if row is None:
            raise NotFoundError(f"no incident {incident_id}")
        return Incident.from_row(row)  # type: ignore[arg-type]
