"""The status board: where every check stands now, held in memory for the dashboard and API.

Reading it costs no query, which keeps the dashboard fast at 10,000 checks; the store keeps
the full history. Uptime is counted in hourly buckets over the last 24 hours.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import chain, islice

from vigil.config.stack import CheckSpec
from vigil.probes.base import Result

SPARK_POINTS = 30
HOURS = 24


class CheckState(StrEnum):
    OK = "ok"
    FAILING = "failing"
    PENDING = "pending"


_ORDER = {CheckState.FAILING: 0, CheckState.PENDING: 1, CheckState.OK: 2}


@dataclass
class CheckStatus:
    spec: CheckSpec
    last: Result | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    hours: dict[int, list[int]] = field(default_factory=dict)  # hour number → [ok, total]
    runs: int = 0
    failures: int = 0

    @property
    def state(self) -> CheckState:
        if self.last is None:
            return CheckState.PENDING
        return CheckState.OK if self.last.ok else CheckState.FAILING

    def uptime(self, now: datetime) -> float | None:
        """Share of passing runs over the last 24 hours, or None before the first run."""
        current = _hour(now)
        ok = total = 0
        for hour, (passed, runs) in self.hours.items():
            if current - hour < HOURS:
                ok += passed
                total += runs
        return ok / total if total else None


class StatusBoard:
    def __init__(self, specs: list[CheckSpec]) -> None:
        self.checks: dict[str, CheckStatus] = {spec.id: CheckStatus(spec) for spec in specs}
        self.services: dict[str, list[CheckStatus]] = {}
        for status in self.checks.values():
            self.services.setdefault(status.spec.service, []).append(status)
        # The checks of a service (None: all) by state, in file order, for ``page``; dropped
        # when a check changes state. Most results keep their check's state, so at 10,000
        # checks the API's pages rarely pay for a pass over every check.
        self._by_state: dict[str | None, dict[CheckState, list[CheckStatus]]] = {}

    def record(self, result: Result) -> None:
        status = self.checks.get(result.check_id)
        if status is None:
            return
        if status.last is None or status.last.ok != result.ok:
            self._by_state.clear()
        status.last = result
        status.runs += 1
        status.failures += 0 if result.ok else 1
        status.latencies.append(result.duration_ms)
        hour = _hour(result.started_at)
        bucket = status.hours.setdefault(hour, [0, 0])
        bucket[0] += int(result.ok)
        bucket[1] += 1
        if len(status.hours) > HOURS + 1:
            for old in sorted(status.hours)[: len(status.hours) - HOURS - 1]:
                del status.hours[old]

    def service_state(self, service: str) -> CheckState:
        states = {s.state for s in self.services.get(service, [])}
        if CheckState.FAILING in states:
            return CheckState.FAILING
        if CheckState.PENDING in states:
            return CheckState.PENDING
        return CheckState.OK

    def counts(self, service: str | None = None) -> dict[str, int]:
        counts = {str(state): 0 for state in CheckState}
        for status in self.services.get(service, []) if service else self.checks.values():
            counts[status.state] += 1
        return counts

    def page(
        self,
        *,
        service: str | None = None,
        state: CheckState | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[CheckStatus], int]:
        """Checks failing first, then pending, then passing (file order within each), one page of them."""
        service = service or None
        if service is not None and service not in self.services:
            return [], 0  # and nothing kept for a name a client made up
        buckets = self._by_state.get(service)
        if buckets is None:
            buckets = self._by_state[service] = {s: [] for s in _ORDER}
            failing, pending, ok = buckets.values()
            # ``CheckStatus.state``'s rule inline: this loop runs over every check.
            for status in self.services.get(service, []) if service else self.checks.values():
                last = status.last
                (pending if last is None else ok if last.ok else failing).append(status)
        chosen = [buckets[state]] if state is not None else list(buckets.values())
        total = sum(len(bucket) for bucket in chosen)
        return list(islice(chain.from_iterable(chosen), offset, offset + limit)), total


def _hour(moment: datetime) -> int:
    return int(moment.timestamp() // 3600)
