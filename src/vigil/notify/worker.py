"""The outbox worker: sends what the outbox holds, retries with backoff, gives up on expiry.

It sleeps until the next row is due, at most ``poll`` seconds (rows written by another Vigil
instance are found within that), and ``wake()`` ends the sleep at once: a page enqueued in this
process leaves as soon as its transaction commits, not on the next tick.

Each row is sent in its own task under a per-message timeout, and each channel has its own
budget of rows in flight: a channel that is down or slow delays its own messages only. A row
this worker has in flight is never claimed again by it, whatever its lease says.

Quiet is judged when a page is sent, not only when its incident opened (``notify.holding``):
``hold`` says why a trigger must not go out now; the row is then held, judged again on later
passes, and sent when quiet ends while its incident is still open.

A channel with a group window (``windows``, from ``group_wait``) takes its rows as one message
per window (``notify.grouping``): one claim, one send, each row recorded as it would be alone.

What became of each send (delivered, to be retried, failed for good, held) is written through
one ``WriteBatch``: the outcomes of sends that finish within a few milliseconds of each other
share one transaction and one UPDATE. A send counts as done once its outcome is committed; one
still waiting when the process dies leaves its row claimed, and the row is sent again after
its lease under the same idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.secrets import redact_url
from vigil.engine.clock import Clock, nap
from vigil.engine.supervisor import Stage, describe
from vigil.notify import grouping
from vigil.notify.base import Channel, DeliveryError, Message, OutboxStatus
from vigil.notify.grouping import GroupWindow
from vigil.notify.holding import HoldHandler, Holding, HoldJudge, lost
from vigil.store import outbox, outbox_gate, outbox_results
from vigil.store.outbox import OutboxEntry
from vigil.store.outbox_results import Outcome

log = logging.getLogger("vigil.notify")

# Called after every attempt with the entry as it now stands (status PENDING: will be retried).
OutcomeHandler = Callable[[OutboxEntry, bool, str | None], Awaitable[None]]
# The messages as they leave, by row id, made for each batch of claimed rows just before they
# are sent (a page gets its acknowledge link); a row missing from the answer leaves as queued.
Preparer = Callable[[Sequence[OutboxEntry]], Awaitable[Mapping[int, Message]]]
# The channel a name the stack file does not configure stands for (a person's contact), or None.
Adopter = Callable[[str], Channel | None]


class OutboxWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        timeout: float = 15.0,
        poll: float = 1.0,
        per_channel: int = 16,
        lease: float = outbox.LEASE_SECONDS,
        on_outcome: OutcomeHandler | None = None,
        rng: random.Random | None = None,
        hold: HoldJudge | None = None,
        on_hold: HoldHandler | None = None,
        stage: Stage | None = None,
        windows: Mapping[str, GroupWindow] | None = None,
        prepare: Preparer | None = None,
        adopt: Adopter | None = None,
        stack: str | None = None,
    ) -> None:
        if lease <= timeout:
            raise ValueError("the lease must outlast the send timeout, or a slow send could be claimed twice")
        self.engine = engine
        # The stack file whose rows this worker sends (and rows of none); every row when None.
        self.stack = stack
        self.channels = dict(channels)
        self.clock = clock
        self.base_delay, self.max_delay = base_delay, max_delay
        self.timeout, self.poll, self.per_channel, self.lease = timeout, poll, per_channel, lease
        self.on_outcome = on_outcome
        self.stage = stage  # where a failing pass is told (once per outage) and shown in /readyz
        # Outcomes are written many to a transaction; a write that fails is kept and tried again.
        self.results = outbox_results.results_batch(engine, stage=stage)
        self._recording: set[int] = set()  # rows whose outcome waits in ``results``
        self.holding = Holding(
            engine,
            clock,
            self._write,
            judge=hold,
            on_hold=on_hold,
            judge_within=lease - timeout,
            review_within=timeout,
            review_every=poll,
            stack=stack,
        )
        self.prepare, self.adopt = prepare, adopt
        self._messages: dict[int, Message] = {}  # prepared, by row id, until sent
        self.rng = rng or random.Random()
        # For Vigil's /metrics: attempts that delivered or failed, by channel; messages waiting.
        self.delivered: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.expired: Counter[str] = Counter()
        self.depth = 0
        self._wake = asyncio.Event()
        self._busy: Counter[str] = Counter()
        # Each task's rows: one, or a group's.
        self._tasks: dict[asyncio.Task[None], list[OutboxEntry]] = {}
        self.windows = dict(windows or {})
        self._opens: dict[str, datetime] = {}  # grouped channels: when their waiting group may go

    def wake(self) -> None:
        """Look at the outbox now (called after a transaction that enqueued messages commits)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return sum(len(entries) for entries in self._tasks.values())

    async def run(self) -> None:
        """Send until cancelled; sends cut short by the cancellation are due again at once."""
        try:
            while True:
                self._wake.clear()
                try:
                    started = await self._pass()
                    delay = await self._delay(started)
                    if self.stage is not None and self.results.failing is None:
                        self.stage.recovered()
                except Exception as err:
                    # The database may be briefly unreachable; the worker must outlive that.
                    if self.stage is not None:
                        self.stage.failed(describe(err), err)
                    else:
                        log.exception("outbox pass failed; trying again in %gs", self.poll)
                    delay = self.poll
                await self._nap(delay)
        finally:
            await self._interrupt()

    async def run_once(self) -> int:
        """One pass, waiting for its sends to finish; returns how many rows it sent or tried."""
        started = await self._pass()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return started

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones: doubling, capped, ±10 %."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(max(attempts - 1, 0), 40))
        return delay * self.rng.uniform(0.9, 1.1)

    def _flying(self) -> set[int]:
        return {entry.id for entries in self._tasks.values() for entry in entries}

    async def _pass(self) -> int:
        now = self.clock.now()
        await self.holding.review()
        for entry in await outbox_gate.drop_follow_ups_without_trigger(self.engine):
            log.info("notify %s to %s dropped: %s", entry.event, entry.channel, entry.last_error)
        # Claims before expiry: a fresh page should not wait for housekeeping (``due`` skips expired rows).
        started = 0
        for name in self.channels:
            if name in self.windows:
                started += await self._group(name, now)
                continue
            room = self.per_channel - self._busy[name]
            if room > 0:
                claimed = await outbox.due(
                    self.engine,
                    now,
                    room,
                    lease=self.lease,
                    channels=[name],
                    exclude=self._flying(),
                    stack=self.stack,
                )
                await self._prepare(claimed)
                for entry in claimed:
                    self._start(entry)
                    started += 1
        # Rows for channels not configured: a person's contact is adopted; any other fails for
        # good, with a reason.
        stale = await outbox.due(
            self.engine,
            now,
            100,
            lease=self.lease,
            skip_channels=self.channels,
            exclude=self._flying(),
            stack=self.stack,
        )
        await self._prepare(stale)
        for entry in stale:
            self._start(entry)
            started += 1
        for entry in await outbox.expire(self.engine, now, exclude=self._flying(), stack=self.stack):
            self.expired[entry.channel] += 1
            tried = f"after {entry.attempts} attempt{'s' if entry.attempts != 1 else ''}"
            error = f"expired {tried}" + (f"; last error: {entry.last_error}" if entry.last_error else "")
            log.warning("notify %s to %s %s", entry.event, entry.channel, error)
            await self._report(entry, False, error)
        self.depth = await outbox.depth(self.engine, self.stack)
        return started

    async def _delay(self, started: int) -> float:
        busy = [
            name for name in self.channels if self._busy[name] >= self.per_channel or name in self.windows
        ]
        moment = await outbox.next_due(
            self.engine, skip_channels=busy, exclude=self._flying(), stack=self.stack
        )
        moment = min([m for m in (moment, *self._opens.values()) if m is not None], default=None)
        if moment is None:
            return self.poll
        delay = (moment - self.clock.now()).total_seconds()
        if delay <= 0 and not started:
            # Due but not claimable (locked by another instance this instant): don't spin.
            return min(self.poll, 0.05)
        return min(max(delay, 0.0), self.poll)

    async def _nap(self, seconds: float) -> None:
        await nap(self.clock, seconds, self._wake)

    def _start(self, entry: OutboxEntry) -> None:
        self._spawn(entry.channel, [entry], entry.key)

    def _spawn(self, channel: str, entries: list[OutboxEntry], key: str) -> None:
        self._busy[channel] += 1
        # ``entries`` is the task's own list: emptied once their outcome is written.
        task = asyncio.ensure_future(self._deliver(entries))
        task.set_name(f"vigil-notify-{key}")
        self._tasks[task] = entries
        task.add_done_callback(lambda done: self._finished(channel, done))

    def _finished(self, channel: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._busy[channel] -= 1
        # A retry may now be due sooner than the sleep in progress, and the channel has room again.
        self.wake()

    async def _interrupt(self) -> None:
        # Without this, a page cut short by a restart would wait out its lease (a minute) before
        # any instance sent it again; it may have reached the receiver, whose idempotency key
        # then drops the second copy.
        cut = list(self._tasks.items())
        for task, _ in cut:
            task.cancel()
        await asyncio.gather(*(task for task, _ in cut), return_exceptions=True)
        # Outcomes already known are written first: those rows are done, not interrupted.
        if not await self.results.close():
            log.warning(
                "%d notification outcomes could not be written; their rows are sent again after their lease",
                self.results.backlog,
            )
            return
        recorded, self._recording = self._recording, set()
        now = self.clock.now()
        for entry in (entry for _, entries in cut for entry in entries if entry.id not in recorded):
            try:
                if not await outbox_results.mark_failed(
                    self.engine, entry, "sending was interrupted by a shutdown", now
                ):
                    log.warning(
                        "notification %s was not released: its lease had passed to another", entry.key
                    )
            except Exception:
                log.exception("cannot release notification %s; it is sent again after its lease", entry.key)

    async def _deliver(self, entries: list[OutboxEntry]) -> None:
        """Send one row, or a group window's rows as one message, and record the outcome on each."""
        for entry in entries:
            self._adopt(entry.channel)
        messages = {entry.id: self._messages.pop(entry.id, entry.message) for entry in entries}
        held = await asyncio.gather(*(self.holding.keeps_back(entry, self.channels) for entry in entries))
        kept = [entry for entry, aside in zip(entries, held, strict=True) if not aside]
        if not kept:
            entries.clear()
            return
        name = kept[0].channel
        error, permanent = await self._transmit(
            messages[kept[0].id] if len(kept) == 1 else grouping.combine(name, [messages[e.id] for e in kept])
        )
        now = self.clock.now()
        ours = await grouping.record_outcome(self._write, kept, (error, permanent), now, self.backoff)
        entries.clear()  # written: nothing left to release should the worker stop now
        if error is None and name in self.windows:
            self.windows[name].sent_at = now
        for entry in kept:
            if entry.id not in ours:
                lost(entry, "delivered" if error is None else f"failed ({error})")
                continue
            # Counted once recorded: whoever reads the count finds the row.
            (self.delivered if error is None else self.failures)[name] += 1
            retry_at = ours[entry.id]
            status = (
                OutboxStatus.DELIVERED
                if error is None
                else OutboxStatus.PENDING
                if retry_at
                else OutboxStatus.FAILED
            )
            if error is not None:
                retrying = f"retrying at {retry_at:%H:%M:%S}" if retry_at else "giving up"
                log.warning(
                    "notify %s to %s failed (attempt %d, %s): %s",
                    entry.event,
                    name,
                    entry.attempts,
                    retrying,
                    error,
                )
            await self._report(replace(entry, status=status, last_error=error), error is None, error)

    async def _group(self, name: str, now: datetime) -> int:
        """Claim and start sending the channel's group when its window is open; how many rows."""
        self._opens.pop(name, None)
        if self._busy[name]:
            return 0  # one group at a time: the next one waits for this one's outcome
        window = self.windows[name]
        claimed = await grouping.claim(window, self.engine, name, now, self.lease, self._flying(), self.stack)
        if isinstance(claimed, datetime):
            self._opens[name] = claimed
            return 0
        if claimed:
            await self._prepare(claimed)  # each page of the group gets its acknowledge link
            self._spawn(name, claimed, f"group-{claimed[0].key}")
        return len(claimed)

    async def _write(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Write outcomes through ``results``; while they wait (the store may refuse them for a
        while: kept and retried) their rows stay this worker's, in flight."""
        ids = [outcome.claimed.id for outcome in outcomes]
        self._recording.update(ids)
        answers = await self.results.submit_many(outcomes)
        self._recording.difference_update(ids)
        return answers

    def _adopt(self, name: str) -> None:
        """Take on a channel the stack file does not name (a person's contact) when ``adopt``
        knows it; from then on it is claimed and budgeted as any other."""
        if name in self.channels or self.adopt is None:
            return
        try:
            found = self.adopt(name)
        except Exception:
            log.exception("cannot make channel %s", name)
            return
        if found is not None:
            self.channels[name] = found

    async def _prepare(self, claimed: Sequence[OutboxEntry]) -> None:
        if self.prepare is None or not claimed:
            return
        try:
            self._messages.update(await self.prepare(claimed))
        except Exception:
            # Better a page without its acknowledge link than no page.
            log.exception("cannot prepare %d notifications; sending them as queued", len(claimed))

    async def _transmit(self, message: Message) -> tuple[str | None, bool]:
        """``(error, permanent)``; ``(None, False)`` when the channel took the message."""
        channel = self.channels.get(message.channel)
        if channel is None:
            return (
                f"channel {message.channel!r} is not configured (the stack file changed since it was queued)",
                True,
            )
        try:
            async with asyncio.timeout(self.timeout):
                await channel.send(message)
        except DeliveryError as err:
            return redact_url(str(err)), err.permanent
        except TimeoutError:
            return f"{message.channel} did not take the message within {self.timeout:g}s", False
        except Exception as err:
            # A fault in a channel must not stop the worker; the next attempt may succeed.
            log.exception("channel %s raised while sending %s", message.channel, message.key)
            return redact_url(f"{message.channel} failed: {type(err).__name__}: {err}".splitlines()[0]), False
        return None, False

    async def _report(self, entry: OutboxEntry, delivered: bool, error: str | None) -> None:
        if self.on_outcome is None:
            return
        try:
            await self.on_outcome(entry, delivered, error)
        except Exception:
            # A timeline that cannot be written must not stop the pages themselves.
            log.exception("recording the outcome of notification %s failed", entry.key)
