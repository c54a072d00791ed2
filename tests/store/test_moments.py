"""Every moment is stored as its UTC instant, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.store.moments import UTCDateTime
from vigil.store.tables import Base, SilenceRow

CEST = timezone(timedelta(hours=2))
NOON_UTC = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_every_moment_column_is_stored_in_utc() -> None:
    # A plain DateTime column would be stored hours off on SQLite; new columns use UTCDateTime.
    plain = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, DateTime) and not isinstance(column.type, UTCDateTime)
    ]
    assert plain == []


async def test_a_moment_with_an_offset_is_stored_and_compared_as_its_instant(engine: AsyncEngine) -> None:
    values = {
        "matchers": [{"name": "service", "op": "=", "value": "api"}],
        "starts_at": datetime(2026, 6, 1, 13, 0, tzinfo=CEST),  # 11:00 UTC
        "ends_at": datetime(2026, 6, 1, 15, 0, tzinfo=CEST),  # 13:00 UTC
        "created_by": "ana",
        "comment": "deploy",
        "created_at": NOON_UTC,
    }
    async with engine.begin() as conn:
        await conn.execute(insert(SilenceRow).values(values))
        row = (await conn.execute(select(SilenceRow))).one()
        assert (row.starts_at, row.ends_at) == (NOON_UTC - timedelta(hours=1), NOON_UTC + timedelta(hours=1))
        assert row.ends_at.tzinfo is UTC
        # Compared in the database as instants, whatever offset the bound value has.
        half_past_two_cest = datetime(2026, 6, 1, 14, 30, tzinfo=CEST)  # 12:30 UTC: before the end
        found = await conn.execute(select(SilenceRow.id).where(SilenceRow.ends_at > half_past_two_cest))
        assert len(found.all()) == 1
        past_the_end = NOON_UTC + timedelta(hours=1, minutes=30)
        found = await conn.execute(select(SilenceRow.id).where(SilenceRow.ends_at > past_the_end))
        assert found.all() == []


async def test_a_moment_without_a_zone_is_refused(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(StatementError, match="naive datetime"):
            await conn.execute(select(SilenceRow.id).where(SilenceRow.ends_at > datetime(2026, 6, 1)))
