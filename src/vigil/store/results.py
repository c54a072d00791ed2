"""Check results in the store: written in batches, read back per check, pruned by retention."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock, SystemClock
from vigil.probes.base import Result
from vigil.store.tables import ResultRow


class ResultStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_many(self, results: Sequence[Result]) -> None:
        if not results:
            return
        rows = [
            {
                "check_id": r.check_id,
                "ok": r.ok,
                "duration_ms": r.duration_ms,
                "reason": r.reason,
                "values": dict(r.values),
                "attempts": r.attempts,
                "started_at": r.started_at,
            }
            for r in results
        ]
        async with self.engine.begin() as conn:
            await conn.execute(insert(ResultRow), rows)

    async def recent(self, check_id: str, limit: int = 50) -> list[Result]:
        """The newest ``limit`` results of one check, newest first."""
        query = (
            select(ResultRow)
            .where(ResultRow.check_id == check_id)
            .order_by(ResultRow.started_at.desc(), ResultRow.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Result(
                check_id=row.check_id,
                ok=row.ok,
                duration_ms=row.duration_ms,
                started_at=_utc(row.started_at),
                reason=row.reason,
                values=row.values or {},
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def prune(self, before: datetime) -> int:
        """Delete results that started before ``before``; returns how many went."""
        async with self.engine.begin() as conn:
            outcome = await conn.execute(delete(ResultRow).where(ResultRow.started_at < before))
        return int(outcome.rowcount or 0)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Vigil stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ResultWriter:
    """Buffers results and writes them in one transaction per batch, so that a thousand checks a
    second cost a few inserts rather than a thousand commits. Prunes old results as it goes."""

    def __init__(
        self,
        store: ResultStore,
        *,
        retention: float,
        clock: Clock | None = None,
        flush_every: float = 0.5,
        batch: int = 1000,
        prune_every: float = 3600.0,
    ) -> None:
        self.store = store
        self.retention = retention
        self.clock = clock or SystemClock()
        self.flush_every = flush_every
        self.batch = batch
        self.prune_every = prune_every
        self._pending: list[Result] = []
        self._full = asyncio.Event()
        self._last_prune: float | None = None

    async def accept(self, result: Result) -> None:
        self._pending.append(result)
        if len(self._pending) >= self.batch:
            self._full.set()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._full.clear()
        await self.store.add_many(pending)
        now = self.clock.monotonic()
        if self._last_prune is None or now - self._last_prune >= self.prune_every:
            self._last_prune = now
            await self.store.prune(self.clock.now() - timedelta(seconds=self.retention))

    async def run(self) -> None:
        """Flush on an interval (or when a batch fills) until cancelled; then flush what is left."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.flush_every):
                        await self._full.wait()
                await self.flush()
        finally:
            await asyncio.shield(self.flush())
