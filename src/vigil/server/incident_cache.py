"""Incident reads shared by everyone who polls: the dashboard's board and the API's lists.

Every open dashboard polls every 2 s, and monitoring scripts poll the API; at a few hundred
clients a store read (or two) per request kept the store busy and answered about 190 requests
a second in all. Here each distinct question is read at most once per ``ttl`` (1 s) for every
client, concurrent askers of an expired answer wait for one read, and any change made through
this process's incident service (open, acknowledge, resolve) drops every answer at once, so
whoever acted sees it on the next read. A change made by another Vigil instance or the CLI is
seen within ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from starlette.datastructures import State

from vigil.incidents.service import IncidentService
from vigil.incidents.severity import IncidentStatus
from vigil.oncall import escalation
from vigil.server.summary import IncidentBoard, incident_board

T = TypeVar("T")
KEPT = 64  # distinct questions kept; clients choose the filters, so the answers are bounded


class IncidentCache:
    def __init__(self, incidents: IncidentService, ttl: float = 1.0) -> None:
        self.incidents = incidents
        self.ttl = ttl
        self._answers: dict[Hashable, tuple[float, Any]] = {}
        self._lock = asyncio.Lock()
        self._changes = 0
        changed = incidents.on_enqueued  # called after every change that pages (all we show)

        def forget_after() -> None:
            changed()
            self.forget()

        incidents.on_enqueued = forget_after

    def forget(self) -> None:
        self._answers.clear()
        self._changes += 1

    def board(self) -> Awaitable[IncidentBoard]:
        return self._get(("board",), lambda: incident_board(self.incidents))

    def listing(
        self,
        *,
        status: Sequence[IncidentStatus],
        service: str | None,
        severity: str | None,
        limit: int,
        offset: int,
    ) -> Awaitable[list[dict[str, Any]]]:
        """``IncidentService.list`` as the API answers it (``as_dict`` each, with its escalation)."""

        async def read() -> list[dict[str, Any]]:
            found = await self.incidents.list(
                status=status, service=service, severity=severity, limit=limit, offset=offset
            )
            ladders = await escalation.views(
                self.incidents.engine, self.incidents.stack, [i.id for i in found]
            )
            return [{**incident.as_dict(), "escalation": ladders.get(incident.id)} for incident in found]

        key = ("list", tuple(sorted(set(status))), service, severity, limit, offset)
        return self._get(key, read)

    async def _get(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        asked = time.monotonic()
        async with self._lock:
            kept = self._answers.get(key)
            if kept is not None and kept[0] >= asked - self.ttl:
                answer: T = kept[1]
                return answer
            at, changes = time.monotonic(), self._changes
            answer = await read()
            if changes != self._changes:
                return answer  # a change committed during the read: keep nothing from before it
            if len(self._answers) >= KEPT:
                self._answers.clear()
            self._answers[key] = (at, answer)
            return answer


def incident_cache(state: State, incidents: IncidentService) -> IncidentCache:
    """The app's one cache (in ``app.state``), made on first use."""
    cache: IncidentCache | None = getattr(state, "incident_cache", None)
    if cache is None:
        cache = state.incident_cache = IncidentCache(incidents)
    return cache
