"""Quiet judged when a page is sent, not only when its incident opened.

``judge`` says why a claimed trigger must not go out now (a silence, a maintenance window, its
alert flapping); the row is then held, its attempt not counted, and judged again on later
passes (at most once per ``review_every`` seconds): when quiet ends while its incident is still
open it is released and sent; when its incident is resolved first it is dropped. ``on_hold`` is
told once when a page is held (with the reason) and once when it is released (None).

When quiet cannot be judged (the judge fails or is slow), the page is sent: better a page during
a silence than none for an outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock
from vigil.notify.base import MessageEvent, OutboxStatus
from vigil.store import outbox_gate, outbox_results
from vigil.store.outbox import OutboxEntry
from vigil.store.outbox_results import Outcome

log = logging.getLogger("vigil.notify")

# Why a trigger must not be sent now (its payload's "labels" are quiet), or None to send it.
HoldJudge = Callable[[OutboxEntry], Awaitable[str | None]]
# Called once when a trigger is held (with the reason) and once when it is released (None).
HoldHandler = Callable[[OutboxEntry, str | None], Awaitable[None]]
# Writes outcomes of claimed rows (the worker's batch); for each, whether the claim still held.
WriteOutcomes = Callable[[Sequence[Outcome]], Awaitable[list[bool]]]


def lost(entry: OutboxEntry, outcome: str) -> None:
    # The lease ran out and another worker claimed the row, or it expired meanwhile: the row
    # is theirs now, and this outcome changes nothing.
    log.warning(
        "notify %s to %s %s, but the row is no longer this worker's to record; left as it is",
        entry.event,
        entry.channel,
        outcome,
    )


class Holding:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        write: WriteOutcomes,
        *,
        judge: HoldJudge | None,
        on_hold: HoldHandler | None,
        judge_within: float,
        review_within: float,
        review_every: float,
        stack: str | None = None,
    ) -> None:
        self.engine, self.clock, self.write = engine, clock, write
        self.stack = stack  # held rows of another stack file are judged by its own quiet
        self.judge, self.on_hold = judge, on_hold
        # A claimed page is judged within the lease's slack beyond the send timeout: judging and
        # sending together never outlast the lease, so no other worker can claim the row meanwhile.
        self.judge_within = judge_within
        self.review_within, self.review_every = review_within, review_every
        self._review_at = float("-inf")  # monotonic: held rows are not judged on every pass

    async def keeps_back(self, entry: OutboxEntry, channels: Container[str]) -> bool:
        """Whether quiet keeps this claimed trigger back; if so it is now held (or not ours).
        Only triggers to a channel in ``channels`` are judged."""
        if self.judge is None or entry.event != MessageEvent.TRIGGERED or entry.channel not in channels:
            return False
        try:
            async with asyncio.timeout(self.judge_within):
                reason = await self.judge(entry)
        except Exception:
            log.exception("cannot tell whether quiet holds notification %s; sending it", entry.key)
            return False
        if reason is None:
            return False
        [ours] = await self.write([outbox_results.held(entry, reason)])
        if not ours:
            lost(entry, "was to be held")
            return True
        log.info("notify %s to %s held: %s", entry.event, entry.channel, reason)
        kept = replace(
            entry,
            status=OutboxStatus.HELD,
            attempts=entry.attempts - 1,
            last_error=reason,
            leased_until=None,
            lease_token=None,
        )
        await self._tell(kept, reason)
        return True

    async def review(self) -> None:
        """When due: drop held pages of resolved incidents; release those quiet no longer holds."""
        if self.clock.monotonic() < self._review_at:
            return
        self._review_at = self.clock.monotonic() + self.review_every
        for entry in await outbox_gate.drop_resolved(self.engine):
            log.info("notify %s to %s dropped: %s", entry.event, entry.channel, entry.last_error)
        if self.judge is None:
            return
        for entry in await outbox_gate.held(self.engine, stack=self.stack):
            try:
                async with asyncio.timeout(self.review_within):
                    reason = await self.judge(entry)
            except Exception:
                log.exception("cannot tell whether quiet still holds notification %s", entry.key)
                continue
            if reason is None and (
                released := await outbox_gate.release(self.engine, entry, self.clock.now())
            ):
                log.info("notify %s to %s released: quiet ended", entry.event, entry.channel)
                await self._tell(released, None)

    async def _tell(self, entry: OutboxEntry, reason: str | None) -> None:
        if self.on_hold is None:
            return
        try:
            await self.on_hold(entry, reason)
        except Exception:
            log.exception("recording the hold of notification %s failed", entry.key)
