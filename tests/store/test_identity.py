"""A store knows itself on SQLite and PostgreSQL: one id made at creation, and a check that
notices when the database behind Vigil is no longer the one it opened."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import FakeClock
from vigil.store.identity import StoreCheck, store_id
from vigil.store.tables import StoreIdentityRow


async def test_a_store_has_one_id_and_the_check_passes_with_a_write(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(StoreIdentityRow.id))).scalars().all()
        assert len(rows) == 1 and re.fullmatch(r"[0-9a-f]{12}", rows[0])
        assert await store_id(conn) == rows[0]
    clock = FakeClock()
    check = StoreCheck(engine, clock)
    assert await check.check() is None
    assert await check.check(write=True) is None
    async with engine.connect() as conn:
        assert (await conn.execute(select(StoreIdentityRow.checked_at))).scalar_one() == clock.now()


async def test_a_database_swapped_behind_vigil_is_named_as_replaced(engine: AsyncEngine) -> None:
    check = StoreCheck(engine, FakeClock())
    await check.open()
    opened = check.id
    async with engine.begin() as conn:  # what a restore of another store's dump leaves behind
        await conn.execute(update(StoreIdentityRow).values(id="0123456789ab"))
    expected = f"the store was replaced: its id is 0123456789ab, Vigil opened {opened}; restart Vigil"
    assert await check.check() == expected
    assert await check.check(write=True) == expected
