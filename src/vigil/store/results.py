"""Check results in the store: written in batches, read back per check, pruned by retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock, SystemClock
from vigil.engine.supervisor import describe
from vigil.probes.base import Result
from vigil.store.tables import ResultRow

log = logging.getLogger("vigil.results")
T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class BatchStore(Protocol[T_contra]):
    """Where a ``BatchWriter`` writes: many items in one transaction, and old ones pruned."""

    async def add_many(self, items: Sequence[T_contra]) -> None: ...

    async def prune(self, before: datetime) -> int: ...


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


class BatchWriter(Generic[T]):
    """Buffers items (results, pings) and writes them in one transaction per batch, so that a
    thousand a second cost a few inserts rather than a thousand commits. Prunes old ones as it goes.

    A batch the store refuses (a full disk, a lost connection) is kept and written when the store
    takes writes again: ``run`` raises, and its supervisor starts it again after a backoff. The
    backlog is bounded by ``max_backlog``; past it the oldest items go, counted in ``dropped``.
    """

    what = "results"  # in the log lines
    dropped_note = " (vigil_results_dropped_total counts them)"

    def __init__(
        self,
        store: BatchStore[T],
        *,
        retention: float,
        clock: Clock | None = None,
        flush_every: float = 0.5,
        batch: int = 1000,
        prune_every: float = 3600.0,
        max_backlog: int = 100_000,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.retention = retention
        self.clock = clock or SystemClock()
        self.flush_every = flush_every
        self.batch = batch
        self.prune_every = prune_every
        self.max_backlog = max_backlog
        self.on_written = on_written or (lambda: None)
        self.dropped = 0
        self._pending: deque[T] = deque()
        self._full = asyncio.Event()
        self._last_prune: float | None = None
        self._dropping = False

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def accept(self, item: T) -> None:
        self.put(item)

    def put(self, item: T) -> None:
        """``accept`` for a caller that cannot await (it never waits: the backlog is bounded)."""
        self._pending.append(item)
        self._bound()
        if len(self._pending) >= self.batch:
            self._full.set()

    async def flush(self) -> None:
        """Write every waiting result, a batch per transaction; a batch the store refuses stays
        at the head of the backlog and the error is raised."""
        self._full.clear()
        wrote = False
        while self._pending:
            chunk = [self._pending.popleft() for _ in range(min(self.batch, len(self._pending)))]
            try:
                await self.store.add_many(chunk)
            except BaseException:
                self._pending.extendleft(reversed(chunk))
                self._bound()
                raise
            wrote = True
        now = self.clock.monotonic()
        if self._last_prune is None or now - self._last_prune >= self.prune_every:
            await self.store.prune(self.clock.now() - timedelta(seconds=self.retention))
            self._last_prune = now
            wrote = True
        if wrote:
            self._dropping = False
            self.on_written()

    async def run(self) -> None:
        """Flush on an interval (or when a batch fills) until cancelled; then flush what is left."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.flush_every):
                        await self._full.wait()
                await self.flush()
        except asyncio.CancelledError:
            try:
                await asyncio.shield(self.flush())
            except Exception as err:
                if self._pending:  # a prune that could not run at shutdown loses nothing
                    log.error(
                        "%d %s were not stored at shutdown: %s", len(self._pending), self.what, describe(err)
                    )
            raise

    def _bound(self) -> None:
        excess = len(self._pending) - self.max_backlog
        if excess <= 0:
            return
        for _ in range(excess):
            self._pending.popleft()
        self.dropped += excess
        if not self._dropping:  # one line per outage, however long it lasts
            self._dropping = True
            log.error(
                "the store has refused %s for a while: over %d wait, the oldest are dropped%s",
                self.what,
                self.max_backlog,
                self.dropped_note,
            )


class ResultWriter(BatchWriter[Result]):
    """Check results, written in batches (``BatchWriter``)."""
