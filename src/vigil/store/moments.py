"""The one column type for a moment in time: stored in UTC, read back as aware UTC.

SQLAlchemy's ``DateTime(timezone=True)`` keeps the offset on PostgreSQL but on SQLite writes
the wall-clock digits and drops the offset without converting, so ``18:00+02:00`` would be
read back as 18:00 UTC. Converting on the way in, for every column and every comparison
bound to one, makes both databases hold the same instant and compare as instants.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that converts aware datetimes to UTC before they are stored and
    hands back aware UTC. A naive datetime is refused: it names no instant, and guessing is how
    times end up hours off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite hands back the stored digits without a zone; they are UTC since we wrote them.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
