"""Small writes that arrive close together, committed together: one transaction for many.

A writer ``submit``s an item and waits for its answer. Items are written by one flusher, which
starts when the first item waits and ends when none does: it lets a few milliseconds pass
(``linger``) unless ``size`` items are waiting already, then hands every waiting item (at most
``limit``) to ``write`` inside one transaction; each writer gets its own item's answer once that
transaction has committed. A burst of a thousand writes costs a few commits, not a thousand.

A flush that fails (the database locked past its busy timeout, a lost connection) keeps its
items, in order, and is tried again after a backoff that doubles up to ``MAX_RETRY``; the items
that came meanwhile join it. A failing streak is told once: to ``stage`` when given (it shows in
``/readyz``; the task that owns the stage marks it well again, seeing ``failing`` cleared), else
to the log, with its end. Nothing is dropped and nothing is answered twice; ``write`` must be
safe to run again for items whose transaction failed.

The linger and the backoff run on the event loop's own time, not the injected ``Clock``: they
are how long to wait for other writers, not moments of the domain, and a fake clock that a test
holds still must not hold writes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.engine.supervisor import Stage, describe

log = logging.getLogger("vigil.store")

T = TypeVar("T")
R = TypeVar("R")
# Writes ``items`` inside the transaction given; answers one value per item, in order.
Write = Callable[[AsyncConnection, Sequence[T]], Awaitable[Sequence[R]]]

FIRST_RETRY = 0.05  # seconds after a failed flush
MAX_RETRY = 2.0


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]
    since: float  # loop time it was submitted


class WriteBatch(Generic[T, R]):
    def __init__(
        self,
        engine: AsyncEngine,
        write: Write[T, R],
        *,
        name: str,
        size: int = 64,
        linger: float = 0.005,
        limit: int = 500,
        stage: Stage | None = None,
    ) -> None:
        if not 0 < size <= limit:
            raise ValueError("a batch's size must be positive and at most its limit")
        self.engine = engine
        self.write = write
        self.name = name  # "outbox results": how the log and /readyz name what failed
        self.size, self.linger, self.limit = size, linger, limit
        self.stage = stage
        self.failing: BaseException | None = None  # the last error of a failing streak
        self.flushes = 0  # transactions committed: what a test or /metrics can count
        self._waiting: list[_Waiting[T, R]] = []
        self._full = asyncio.Event()
        self._closing = False
        self._flusher: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        return len(self._waiting)

    async def submit(self, item: T) -> R:
        """Write ``item`` with the others waiting; its answer once committed."""
        [answer] = await self.submit_many([item])
        return answer

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Write ``items`` (in order, in as few transactions as ``limit`` allows); their answers.

        A caller cancelled while it waits does not take its items back: they are written all
        the same, as the outcome they record happened."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        waiting = [_Waiting[T, R](item, loop.create_future(), now) for item in items]
        self._waiting.extend(waiting)
        if len(self._waiting) >= self.size:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_all())
            self._flusher.set_name(f"vigil-write-batch-{self.name}")
        return list(await asyncio.gather(*(w.answer for w in waiting)))

    async def close(self, grace: float = 5.0) -> bool:
        """Write what waits now, trying for ``grace`` seconds; False when some is left unwritten."""
        self._closing = True
        self._full.set()
        flusher = self._flusher
        try:
            if flusher is not None and not flusher.done():
                async with asyncio.timeout(grace):
                    await asyncio.shield(flusher)
        except TimeoutError:
            if flusher is not None:
                flusher.cancel()
                await asyncio.gather(flusher, return_exceptions=True)
        finally:
            self._closing = False
        return not self._waiting

    async def _flush_all(self) -> None:
        loop = asyncio.get_running_loop()
        delay = FIRST_RETRY
        while self._waiting:
            wait = self._waiting[0].since + self.linger - loop.time()
            if wait > 0 and len(self._waiting) < self.size and not self._closing:
                self._full.clear()
                try:
                    async with asyncio.timeout(wait):
                        await self._full.wait()
                except TimeoutError:
                    pass
            batch = self._waiting[: self.limit]
            try:
                async with self.engine.begin() as conn:
                    answers = await self.write(conn, [w.item for w in batch])
            except Exception as err:
                # Kept at the head, in order: tried again with whatever came meanwhile.
                self._failed(err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY)
                continue
            del self._waiting[: len(batch)]
            self.flushes += 1
            self._recovered()
            delay = FIRST_RETRY
            for waiting, answer in zip(batch, answers, strict=True):
                if not waiting.answer.done():  # its writer may have been cancelled meanwhile
                    waiting.answer.set_result(answer)

    def _failed(self, err: Exception) -> None:
        first = self.failing is None
        self.failing = err
        if self.stage is not None:
            self.stage.failed(f"cannot write {self.name}: {describe(err)}", err)
        elif first:
            log.warning(
                "cannot write %s (%d waiting; kept and tried again): %s",
                self.name,
                self.backlog,
                describe(err),
            )

    def _recovered(self) -> None:
        if self.failing is None:
            return
        self.failing = None
        if self.stage is None:
            log.warning("writing %s works again", self.name)
