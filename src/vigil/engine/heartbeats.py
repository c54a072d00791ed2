"""The heartbeat watch: takes the pings of ``heartbeat`` checks and judges them on time.

A ping is cheap: a lookup of its key, a token from the check's bucket (``rate`` a second,
``burst`` at once; past it, refused), the check's state changed in memory and the ping queued
for the store's next batch. A ping that may change the verdict (a failure, a success after a
failure, a start that brings the deadline forward) has the check judged at once; otherwise it
is judged at its deadline and every ``every`` of the check, as any check runs (why a timer of its
own: ``probes.heartbeat``). Each verdict is a ``Result`` handed to the same flow as a probe's.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock, nap
from vigil.errors import ConfigError, ConfigFault, NotFoundError, VigilError
from vigil.probes.base import Result
from vigil.probes.heartbeat import Beat, HeartbeatCheck, Signal
from vigil.store.pings import Ping, PingStore, PingWriter, beat_of, heartbeat_records

ResultHandler = Callable[[Result], Awaitable[None]]
REASON_LINE = 200  # characters of a failure's log kept in its reason


class PingOutcome(StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"  # no check has this key
    LIMITED = "limited"  # the key's bucket is empty


@dataclass
class _Slot:
    """A check's place in the watch: its beat, its rate bucket and when it is next judged."""

    spec: CheckSpec
    check: HeartbeatCheck
    beat: Beat
    tokens: float
    filled_at: float
    due: float = float("inf")
    ok: bool | None = None  # the last verdict handed on


class HeartbeatWatch:
    def __init__(
        self,
        specs: Sequence[CheckSpec],
        engine: AsyncEngine,
        submit: ResultHandler,
        clock: Clock,
        redact: Callable[[str], str],
        *,
        retention: float,
        rate: float = 10.0,
        burst: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.specs = [s for s in specs if isinstance(s.config, HeartbeatCheck)]
        self.engine = engine
        self.submit = submit
        self.clock = clock
        self.redact = redact
        self.rate = rate
        self.burst = burst
        self.rng = rng or random.Random()
        self.beats: dict[str, Beat] = {}
        self._slots: dict[str, _Slot] = {}  # by check id
        self._by_key: dict[str, _Slot] = {}
        self._queue: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self.writer = PingWriter(
            PingStore(engine, self.beats), retention=retention, clock=clock, flush_every=1.0, batch=20_000
        )

    def given_keys(self) -> list[str]:
        """The keys the stack file gives (secrets: the URL's only credential)."""
        return [key for spec in self.specs if (key := given_key(spec))]

    async def load(self) -> None:
        """Read (or make) each check's key and last state; checks are judged from now on."""
        wanted = {s.id: given_key(s) is None for s in self.specs}
        now = self.clock.now()
        records = await heartbeat_records(self.engine, wanted, now)
        start = self.clock.monotonic()
        for spec in self.specs:
            record = records[spec.id]
            key = given_key(spec) or record.key or ""
            config = spec.config
            if not isinstance(config, HeartbeatCheck):  # made sure of in __init__; for the type
                continue
            beat = beat_of(record, key, config.heartbeat, max(now, record.created_at))
            if key in self._by_key:
                other = self._by_key[key].spec.id
                raise ConfigError([ConfigFault("", 0, 0, spec.id, f"has the same ping key as {other}")])
            slot = _Slot(spec, config, beat, self.burst, start)
            self.beats[spec.id] = beat
            self._slots[spec.id] = self._by_key[key] = slot
            # Spread over the interval, as the scheduler does, so 1,000 checks do not report at once.
            self._arm(slot, start + self.rng.uniform(0, spec.config.every))

    def ping(
        self,
        key: str,
        signal: Signal,
        *,
        exit_status: int | None = None,
        body: bytes | None = None,
        remote: str | None = None,
    ) -> PingOutcome:
        """Take a ping. Not a coroutine: the HTTP fast path (``server.ping_wire``) calls it from
        the parser's callbacks, where nothing may be awaited (and nothing needs to be)."""
        slot = self._by_key.get(key)
        if slot is None:
            return PingOutcome.UNKNOWN
        now = self.clock.monotonic()
        slot.tokens = min(self.burst, slot.tokens + (now - slot.filled_at) * self.rate)
        slot.filled_at = now
        if slot.tokens < 1:
            return PingOutcome.LIMITED
        slot.tokens -= 1
        at = self.clock.now()
        text = self.redact(body.decode("utf-8", "replace")) if body else None
        beat = slot.beat
        beat.record(signal, at, _failure(exit_status, text) if signal is Signal.FAIL else None)
        self.writer.put(Ping(beat.check_id, signal, at, exit_status, text, remote))
        # A verdict that changes is handed on at once; a repeated failure at the next judgement.
        if (signal is Signal.FAIL and slot.ok is not False) or (
            signal is Signal.SUCCESS and slot.ok is not True
        ):
            self._arm(slot, now)
        elif signal is Signal.START:
            self._arm(slot, self._deadline(slot))
        return PingOutcome.ACCEPTED

    async def run(self) -> None:
        """Judge each check when it is due, until cancelled."""
        while True:
            self._wake.clear()
            while self._queue and self._queue[0][0] <= self.clock.monotonic():
                when, _, check_id = heapq.heappop(self._queue)
                slot = self._slots[check_id]
                if when == slot.due:  # else a later or earlier arming replaced this one
                    await self._judge(slot)
            wait = self._queue[0][0] - self.clock.monotonic() if self._queue else 3600.0
            await nap(self.clock, wait, self._wake)

    async def _judge(self, slot: _Slot) -> None:
        now = self.clock.now()
        observation = slot.check.verdict(slot.beat, now)
        slot.ok = observation.ok
        slot.due = float("inf")
        following = self.clock.monotonic() + slot.spec.config.every
        self._arm(slot, min(following, self._deadline(slot)) if observation.ok else following)
        reason = self.redact(observation.reason) if observation.reason else None
        result = Result(slot.spec.id, observation.ok, 0.0, now, reason, dict(observation.values))
        await self.submit(result)

    def _deadline(self, slot: _Slot) -> float:
        """The beat's deadline on the monotonic clock."""
        return self.clock.monotonic() + (slot.check.deadline(slot.beat) - self.clock.now()).total_seconds()

    def _arm(self, slot: _Slot, when: float) -> None:
        """Judge ``slot`` at ``when`` if that is sooner than it was due."""
        if when >= slot.due:
            return
        slot.due = when
        heapq.heappush(self._queue, (when, next(self._seq), slot.spec.id))
        if when <= self._queue[0][0]:
            self._wake.set()


def given_key(spec: CheckSpec) -> str | None:
    return spec.config.heartbeat.key if isinstance(spec.config, HeartbeatCheck) else None


def _failure(exit_status: int | None, text: str | None) -> str | None:
    """A failure's reason: its exit status and its log's last line (where errors are)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    parts = ([f"exit status {exit_status}"] if exit_status else []) + lines[-1:]
    said = ": ".join(parts)
    return said[:REASON_LINE] + ("…" if len(said) > REASON_LINE else "") if said else None


def heartbeat_spec(stack: Stack, check_id: str) -> CheckSpec:
    """The heartbeat check ``check_id`` of ``stack``, or an error naming the ones there are."""
    spec = next((s for s in stack.specs() if s.id == check_id), None)
    if spec is None:
        known = ", ".join(s.id for s in stack.specs() if s.kind == "heartbeat") or "none"
        raise NotFoundError(f"no check {check_id} in {stack.file}; its heartbeat checks: {known}")
    if not isinstance(spec.config, HeartbeatCheck):
        # Not found, too: such a check has no ping URL and no pings to read.
        raise NotFoundError(f"{check_id} is a {spec.kind} check, not a heartbeat; it has no ping URL")
    return spec


async def ping_url(spec: CheckSpec, engine: AsyncEngine | None, base_url: str) -> str:
    """The URL ``spec``'s job pings on success (``/start``, ``/fail`` and ``/<status>`` extend it).
    ``engine`` (the store, where a key of Vigil's making is kept) is needed unless the stack file
    gives the key; a check the store has not seen yet gets its key now."""
    key = given_key(spec)
    if key is None:
        if engine is None:
            raise VigilError(f"{spec.id}'s key is kept in Vigil's store; open it to read the key")
        records = await heartbeat_records(engine, {spec.id: True}, datetime.now(UTC))
        key = records[spec.id].key or ""
    return f"{base_url.rstrip('/')}/ping/{key}"
