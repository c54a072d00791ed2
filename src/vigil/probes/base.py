"""The one interface every probe kind implements, and what a probe run produces.

A probe module defines a ``CheckBase`` subclass (its stack-file fields), a class following
``Probe`` and a ``KIND`` naming both; ``registry`` lists the modules. The engine measures time,
enforces the timeout and retries, so a probe only looks and judges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from vigil.config.check import CheckBase

C = TypeVar("C", bound=CheckBase)
C_contra = TypeVar("C_contra", bound=CheckBase, contravariant=True)


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_JUDGED = "not_judged"  # ``vigil check`` on a heartbeat whose pings it has not seen


@dataclass(frozen=True)
class Observation:
    """A probe's verdict on one attempt: ok or a one-line reason, plus numbers worth keeping."""

    ok: bool
    reason: str | None = None
    values: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def passed(cls, **values: float) -> Observation:
        return cls(True, None, values)

    @classmethod
    def failed(cls, reason: str, **values: float) -> Observation:
        return cls(False, reason, values)


@dataclass(frozen=True)
class Result:
    """One run of one check (after retries): what the store keeps and every later stage reads."""

    check_id: str
    ok: bool
    duration_ms: float
    started_at: datetime
    reason: str | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    attempts: int = 1
    judged: bool = True  # False: nothing to judge from here (``ok`` is then True, failing nothing)

    @property
    def status(self) -> Status:
        if not self.judged:
            return Status.NOT_JUDGED
        return Status.OK if self.ok else Status.FAILED

    @property
    def service(self) -> str:
        return self.check_id.split(".", 1)[0]

    @property
    def check(self) -> str:
        return self.check_id.split(".", 1)[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "check": self.check,
            "id": self.check_id,
            "ok": self.ok if self.judged else None,
            "status": str(self.status),
            "duration_ms": round(self.duration_ms, 3),
            "reason": self.reason,
            "values": dict(self.values),
            "attempts": self.attempts,
            "started_at": self.started_at.isoformat(),
        }


class Probe(Protocol[C_contra]):
    """Looks at a target once. Shared connections live on the instance; ``close`` frees them."""

    async def observe(self, check: C_contra) -> Observation:
        """Judge the target. Raise ``ProbeError`` (or let a network error out) to fail with a reason."""

    async def close(self) -> None:
        """Release what the probe holds; called once when the engine stops."""


@dataclass(frozen=True)
class Metric:
    """A documented sample name for one of a kind's values, so that a rule reads
    ``vigil_postgres_connections_used_ratio > 0.8`` rather than a ``vigil_check_value`` selector.

    ``value`` names the Observation value it publishes. With ``label``, it publishes every value
    named ``<value>.<x>`` instead, ``x`` becoming that label (``list_length.jobs`` →
    ``vigil_redis_list_length{list="jobs"}``). ``scale`` turns a value into the metric's base unit
    (0.001 for a ``*_ms`` value published in seconds).
    """

    name: str
    value: str
    help: str
    label: str | None = None
    scale: float = 1.0


def metric(kind: str, value: str, help: str, *, label: str | None = None, name: str = "") -> Metric:
    """The metric for ``kind``'s ``value`` by the common rule: ``vigil_<kind>_<value>``, and a
    ``*_ms`` value in seconds (``connect_ms`` → ``vigil_postgres_connect_seconds``), as
    Prometheus' names use base units. ``name`` replaces the part after ``vigil_<kind>_``."""
    if value.endswith("_ms") and not name:
        return Metric(f"vigil_{kind}_{value[:-3]}_seconds", value, help, label, 0.001)
    return Metric(f"vigil_{kind}_{name or value}", value, help, label)


@dataclass(frozen=True)
class ProbeKind(Generic[C]):
    """A registry entry: the probe key, its stack-file model, how to make its probe, and the
    metric names its values are published under (a fixed set, listed in the README).

    ``loads`` names the client libraries the probe imports where it uses them (aiohttp, asyncpg …):
    not with the stack file's schema, which ``vigil validate`` needs alone, but when the engine
    makes the probe, before a check's time and timeout start.

    ``pushed``: the kind is judged from what it receives (``heartbeat``'s pings) by a watch of
    its own, not run by the scheduler.
    """

    name: str
    config: type[C]
    factory: Callable[[], Probe[C]]
    metrics: tuple[Metric, ...] = ()
    loads: tuple[str, ...] = ()
    pushed: bool = False
