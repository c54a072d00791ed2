"""Who is on an incident: the check that opened it, and each check that joined it.

Kept as rows of ``incident_members`` (one per incident and check, the database holds that),
written in the transaction that opens or joins the incident; the timeline line a join writes
("api.live also failing (…)") is for people and is not read back. A merge adds the duplicate's
members to the survivor, so a later failure of one of them routed there is not noted again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store.tables import IncidentMemberRow


def _insert(conn: AsyncConnection) -> postgresql.Insert | sqlite.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(IncidentMemberRow)
    return sqlite.insert(IncidentMemberRow)


async def add_member(conn: AsyncConnection, incident_id: int, check_id: str, at: datetime) -> bool:
    """Put ``check_id`` on the incident, in the caller's transaction; False when it was on it
    already (this process before a restart, or another instance, put it there)."""
    statement = (
        _insert(conn)
        .values(incident_id=incident_id, check_id=check_id, joined_at=at)
        .on_conflict_do_nothing()
        .returning(IncidentMemberRow.id)
    )
    return (await conn.execute(statement)).first() is not None


async def add_openers(conn: AsyncConnection, openers: Sequence[tuple[int, str]], at: datetime) -> None:
    """The checks that opened new incidents (incident id, check id), put on them."""
    if openers:
        rows = [{"incident_id": i, "check_id": c, "joined_at": at} for i, c in openers]
        await conn.execute(_insert(conn).on_conflict_do_nothing(), rows)


async def move_members(conn: AsyncConnection, from_id: int, to_id: int, at: datetime) -> None:
    """Put the members of incident ``from_id`` on ``to_id`` too (a merge), joined at ``at``."""
    moved = select(literal(to_id), IncidentMemberRow.check_id, literal(at, IncidentMemberRow.joined_at.type))
    statement = _insert(conn).from_select(
        ["incident_id", "check_id", "joined_at"],
        moved.where(IncidentMemberRow.incident_id == from_id).order_by(IncidentMemberRow.id),
    )
    await conn.execute(statement.on_conflict_do_nothing())


async def member_ids(conn: AsyncConnection, incident_id: int) -> list[str]:
    """The checks on the incident, in the order they came on it (its opener first)."""
    query = (
        select(IncidentMemberRow.check_id)
        .where(IncidentMemberRow.incident_id == incident_id)
        .order_by(IncidentMemberRow.joined_at, IncidentMemberRow.id)
    )
    return list((await conn.execute(query)).scalars())


async def any_of(conn: AsyncConnection, incident_id: int, check_ids: Sequence[str]) -> bool:
    """Whether one of ``check_ids`` is on the incident."""
    query = select(IncidentMemberRow.id).where(
        IncidentMemberRow.incident_id == incident_id, IncidentMemberRow.check_id.in_(list(check_ids))
    )
    return (await conn.execute(query.limit(1))).first() is not None
