"""Vigil's own self-check: when its store, or its series log, has refused writes for over a
minute, every channel of the stack file is told directly, outside the outbox (which lives in the
store, perhaps on the very disk that is full), and told again when the writes are taken once more.

Each channel gets each notice once; a channel that could not be reached is tried again at the
next look, so a channel down at the moment the store failed still hears of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vigil.engine.clock import Clock
from vigil.engine.supervisor import Stage, describe
from vigil.notify.base import Channel, DeliveryError, Message, MessageEvent

log = logging.getLogger("vigil.store_alarm")


@dataclass(frozen=True)
class Subject:
    """What an alarm watches, in the words of its notices."""

    name: str  # in the notices' check (``vigil.store``) and idempotency keys
    failing: str  # the title while it refuses writes
    refused: str  # how the reason begins: "… since 2026-…: the last error"
    again: str  # the title once it takes writes again
    mended: str  # the reason then
    severity: str


STORE = Subject(
    "store",
    "Vigil cannot write its store",
    "the store has refused writes",
    "Vigil writes its store again",
    "the store takes writes again; check results and pages flow once more",
    "P1",
)
# Rules go on from memory meanwhile; a restart would lose the samples that wait unwritten.
SERIES_LOG = Subject(
    "series-log",
    "Vigil cannot write its series log",
    "the series log has refused writes (rules are evaluated from memory; a restart loses the samples since)",
    "Vigil writes its series log again",
    "the series log takes writes again; its samples survive a restart once more",
    "P2",
)


class StoreAlarm:
    def __init__(
        self,
        stages: Sequence[Stage],
        channels: Mapping[str, Channel],
        clock: Clock,
        store_id: Callable[[], str | None],
        subject: Subject = STORE,
        *,
        after: float = 60.0,
        every: float = 5.0,
    ) -> None:
        self.stages = stages
        self.channels = channels
        self.clock = clock
        self.store_id = store_id
        self.subject = subject
        self.after = after
        self.every = every
        self.raised: Message | None = None  # the notice of the failure now being told
        self._told: set[str] = set()

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.every)
            await self.look()

    async def look(self) -> None:
        failing = [s for s in self.stages if s.failing_for() > self.after]
        if failing and (self.raised is None or self.raised.event is MessageEvent.RESOLVED):
            self._start(self._notice(failing[0], MessageEvent.TRIGGERED))
        elif not any(s.failing_since for s in self.stages) and self._is_failure_notice():
            self._start(self._notice(None, MessageEvent.RESOLVED))
        if self.raised is not None:
            await self._tell(self.raised)

    def _is_failure_notice(self) -> bool:
        return self.raised is not None and self.raised.event is MessageEvent.TRIGGERED

    def _start(self, message: Message) -> None:
        self.raised = message
        self._told.clear()

    def _notice(self, stage: Stage | None, event: MessageEvent) -> Message:
        now, subject = self.clock.now(), self.subject
        if stage is not None and stage.failing_since is not None:
            since = f"{stage.failing_since:%Y-%m-%d %H:%M:%S}"
            reason = f"{subject.refused} since {since} UTC: {stage.last_error}"
            title = subject.failing
        else:
            reason, title = subject.mended, subject.again
        # One key per notice and store: a receiver that drops repeated keys drops only repeats.
        key = f"vigil-{subject.name}-{self.store_id() or 'unknown'}-{event}-{int(now.timestamp())}"
        payload = {
            "incident_id": None,
            "event": str(event),
            "title": title,
            "severity": subject.severity,
            "service": "vigil",
            "check": f"vigil.{subject.name}",
            "reason": reason,
            "url": None,
        }
        log.log(logging.ERROR if stage else logging.WARNING, "%s: %s", title, reason)
        return Message(key, "", event, payload)

    async def _tell(self, notice: Message) -> None:
        for name, channel in self.channels.items():
            if name in self._told:
                continue
            try:
                await channel.send(Message(f"{notice.key}-{name}", name, notice.event, notice.payload))
            except Exception as err:  # a channel's own bug must not stop the others hearing
                shown = err if isinstance(err, DeliveryError) else describe(err)
                log.warning("cannot tell channel %s that %s: %s", name, notice.payload["title"], shown)
                continue
            self._told.add(name)
