"""Whether an alert may page now: the one question the paging path asks of silences and
maintenance windows.

``reason`` runs once per incident that would page, so it reads the store at most about once a
second (``ttl``); a change made through this process's services drops the copy at once, a
change made by another Vigil instance or the CLI is seen within ``ttl``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.silences import Silence, SilenceService, SilenceState
from vigil.config.maintenance import MaintenanceSettings
from vigil.engine.clock import Clock
from vigil.maintenance.windows import MaintenanceService, Window
from vigil.store.outbox import OutboxEntry

COMMENT_SHOWN = 60  # characters of a silence's comment quoted in a timeline line


@dataclass(frozen=True)
class QuietState:
    """What is quiet at ``now``: the active windows and silences, for the dashboard and the API."""

    now: datetime
    windows: tuple[Window, ...]
    silences: tuple[Silence, ...]

    def until(self, moment: datetime) -> str:
        return clock_time(moment, self.now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "windows": [w.as_dict(self.now) for w in self.windows],
            "silences": [s.as_dict(self.now) for s in self.silences],
        }


class QuietRules:
    def __init__(
        self, engine: AsyncEngine, settings: MaintenanceSettings, clock: Clock, ttl: float = 1.0
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self.silences = SilenceService(engine, clock, on_change=self.forget)
        self.maintenance = MaintenanceService(engine, settings, clock, on_change=self.forget)
        self._loaded_at = -math.inf
        self._changes = 0
        self._current: tuple[list[Silence], list[Window]] = ([], [])
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Drop the cached silences and windows; the next question reads the store."""
        self._loaded_at = -math.inf
        self._changes += 1

    async def reason(self, labels: Mapping[str, str], now: datetime) -> str | None:
        """Why an alert with ``labels`` must not page at ``now``, or None when it may."""
        silences, manual = await self._load()
        for silence in silences:
            if silence.state(now) is SilenceState.ACTIVE and silence.matches(labels):
                return f"silenced by #{silence.id} ({_short(silence.comment)}, until {clock_time(silence.ends_at, now)})"
        for window in [*manual, *self.maintenance.scheduled(now)]:
            if window.active(now) and window.matches(labels):
                return f"maintenance window {window.name} (until {clock_time(window.ends_at, now)})"
        return None

    async def hold(self, entry: OutboxEntry) -> str | None:
        """Why the outbox must hold this queued page now (asked when it sends, and again for each
        held page until the quiet ends); None when it may go. Only a trigger carries ``labels``."""
        labels = entry.payload.get("labels")
        if not isinstance(labels, dict):
            return None
        return await self.reason({str(k): str(v) for k, v in labels.items()}, self.clock.now())

    async def active(self) -> QuietState:
        now = self.clock.now()
        silences, manual = await self._load()
        windows = [w for w in [*manual, *self.maintenance.scheduled(now)] if w.active(now)]
        return QuietState(
            now,
            tuple(sorted(windows, key=lambda w: w.ends_at)),
            tuple(s for s in silences if s.state(now) is SilenceState.ACTIVE),
        )

    async def _load(self) -> tuple[list[Silence], list[Window]]:
        if self._fresh():
            return self._current
        # One read for everyone: a burst of incidents asking at once waits for the same query.
        async with self._lock:
            if not self._fresh():
                started, changes = self.clock.monotonic(), self._changes
                silences = await self.silences.list(limit=None)
                manual = await self.maintenance.manual(self.clock.now())
                self._current = (sorted(silences, key=lambda s: s.id), manual)
                # A change made while the store was being read may be missing from it: keep
                # the copy for this answer only.
                self._loaded_at = started if changes == self._changes else -math.inf
        return self._current

    def _fresh(self) -> bool:
        return self.clock.monotonic() - self._loaded_at < self.ttl


def clock_time(moment: datetime, now: datetime) -> str:
    """``14:00 UTC`` today, ``2026-03-29 14:00 UTC`` on another day."""
    return moment.strftime("%H:%M UTC" if moment.date() == now.date() else "%Y-%m-%d %H:%M UTC")


def _short(comment: str) -> str:
    line = comment.strip().splitlines()[0] if comment.strip() else ""
    return line if len(line) <= COMMENT_SHOWN else line[: COMMENT_SHOWN - 1] + "\u2026"
