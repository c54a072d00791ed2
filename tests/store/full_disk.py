"""A SQLite store whose disk fills and frees on the test's word: ``PRAGMA max_page_count`` set at
every checkout, so a write that needs a new page really fails with SQLite's own
``database or disk is full``, as it does on a full disk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_UNLIMITED = 2**31


class FullDisk:
    def __init__(self, engine: AsyncEngine) -> None:
        self.full = False
        event.listen(engine.sync_engine, "checkout", self._limit)

    def _limit(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A limit below the current size is taken as the current size: not one page more.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={1 if self.full else _UNLIMITED}")
        cursor.close()
