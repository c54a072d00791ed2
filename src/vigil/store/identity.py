"""A store that knows itself: its id, and whether it is still the store Vigil opened.

The id is made when the store is created (migration 0006) and carried by every idempotency
key, so a store made afresh after ``rm -rf .vigil`` never repeats a key a receiver has seen.
``StoreCheck`` notices a store that is gone (the SQLite file deleted or replaced, the database
dropped) or that no longer takes writes; ``/readyz`` and the store alarm read it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.engine.clock import Clock
from vigil.engine.supervisor import Stage, describe
from vigil.store.tables import StoreIdentityRow

_IDS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


async def store_id(conn: AsyncConnection) -> str:
    """The id of the store ``conn`` belongs to; read once per engine, it never changes.

    Migration 0006 makes it; a store whose row was wiped by hand is a new store and gets a new
    id here, in ``conn``'s transaction."""
    known = _IDS.get(conn.sync_engine)
    if known is None:
        first = select(StoreIdentityRow.id).order_by(StoreIdentityRow.created_at).limit(1)
        known = (await conn.execute(first)).scalar()
        if known is None:
            known = uuid.uuid4().hex[:12]
            await conn.execute(insert(StoreIdentityRow).values(id=known, created_at=datetime.now(UTC)))
        _IDS[conn.sync_engine] = known
    return known


@dataclass(frozen=True)
class _File:
    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> _File:
        # The file itself, not its name: a store deleted and made again has the name, not the inode.
        path = path.absolute()
        stat = path.stat()
        return cls(path, stat.st_dev, stat.st_ino)


class StoreCheck:
    """Is the store the one Vigil opened, and does it take a write? ``None`` when it is fine,
    else one line saying what is wrong."""

    def __init__(self, engine: AsyncEngine, clock: Clock, *, timeout: float = 5.0) -> None:
        self.engine = engine
        self.clock = clock
        self.timeout = timeout
        self.id: str | None = None
        self._file: _File | None = None

    async def open(self) -> None:
        async with self.engine.begin() as conn:
            self.id = await store_id(conn)
        database = self.engine.url.database
        if self.engine.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:"):
            self._file = _File.of(Path(str(database)))

    async def check(self, *, write: bool = False) -> str | None:
        if self.id is None:
            try:
                await self.open()
            except (SQLAlchemyError, OSError) as err:
                return f"the store cannot be opened: {describe(err)}"
        gone = self._file_gone()
        if gone:
            return gone
        try:
            async with asyncio.timeout(self.timeout):
                if write:
                    return await self._write()
                async with self.engine.connect() as conn:
                    found = (await conn.execute(select(StoreIdentityRow.id))).scalars().all()
        except TimeoutError:
            return f"the store did not answer within {self.timeout:g}s"
        except (SQLAlchemyError, OSError) as err:
            return f"the store cannot be {'written' if write else 'read'}: {describe(err)}"
        return None if found == [self.id] else self._replaced(found)

    async def run(self, stage: Stage, every: float = 5.0) -> None:
        """Check with a write every ``every`` seconds and tell ``stage`` how it went."""
        while True:
            reason = await self.check(write=True)
            if reason is None:
                stage.recovered()
            else:
                stage.failed(reason)
            await self.clock.sleep(every)

    async def _write(self) -> str | None:
        async with self.engine.begin() as conn:
            outcome = await conn.execute(
                update(StoreIdentityRow)
                .where(StoreIdentityRow.id == self.id)
                .values(checked_at=self.clock.now())
            )
            if outcome.rowcount == 1:
                return None
            found = (await conn.execute(select(StoreIdentityRow.id))).scalars().all()
        return self._replaced(found)

    def _replaced(self, found: Sequence[str]) -> str:
        now = found[0] if found else "none"
        return f"the store was replaced: its id is {now}, Vigil opened {self.id}; restart Vigil"

    def _file_gone(self) -> str | None:
        if self._file is None:
            return None
        try:
            stat = os.stat(self._file.path)
        except FileNotFoundError:
            return f"the store {self._file.path} was deleted under Vigil; restart Vigil to make a new one"
        except OSError as err:
            return f"the store {self._file.path} cannot be reached: {describe(err)}"
        if (stat.st_dev, stat.st_ino) != (self._file.device, self._file.inode):
            return f"the store {self._file.path} was replaced by another file; restart Vigil"
        return None
