"""Running one check: the probe's attempts, the timeout, retries, and the ``Result``.

Probes only judge; timing, timeouts, retries and turning unexpected errors into a readable
reason happen here, the same way for every kind.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from vigil.config.secrets import Redactor
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock, SystemClock
from vigil.errors import ProbeError
from vigil.probes.base import Observation, Probe, Result
from vigil.probes.describe import describe_error
from vigil.probes.registry import KINDS

__all__ = ["CheckRunner", "CheckSpec", "ProbeSet"]


class ProbeSet:
    """One probe instance per kind, made on first use so shared connections live in the running loop."""

    def __init__(self) -> None:
        self._probes: dict[str, Probe[Any]] = {}

    def get(self, kind: str) -> Probe[Any]:
        probe = self._probes.get(kind)
        if probe is None:
            for library in KINDS[kind].loads:
                importlib.import_module(library)
            probe = self._probes[kind] = KINDS[kind].factory()
        return probe

    async def aclose(self) -> None:
        probes, self._probes = list(self._probes.values()), {}
        for probe in probes:
            await probe.close()


class CheckRunner:
    """Runs checks: ``attempts = 1 + retries``, each bounded by the check's timeout."""

    def __init__(
        self, probes: ProbeSet, clock: Clock | None = None, redactor: Redactor | None = None
    ) -> None:
        self.probes = probes
        self.clock = clock or SystemClock()
        self.redact = redactor or Redactor()

    async def run(self, spec: CheckSpec) -> Result:
        self.probes.get(spec.kind)  # made (its library loaded) before the check's time starts
        started_at = self.clock.now()
        start = self.clock.monotonic()
        attempts = 0
        observation = Observation.failed("not run")
        for _ in range(1 + spec.config.retries):
            attempts += 1
            observation = await self._attempt(spec)
            if observation.ok:
                break
        duration_ms = (self.clock.monotonic() - start) * 1000.0
        reason = self.redact(observation.reason) if observation.reason else None
        return Result(
            check_id=spec.id,
            ok=observation.ok,
            duration_ms=duration_ms,
            started_at=started_at,
            reason=reason,
            values=dict(observation.values),
            attempts=attempts,
        )

    async def _attempt(self, spec: CheckSpec) -> Observation:
        probe = self.probes.get(spec.kind)
        timeout = spec.config.timeout
        try:
            async with asyncio.timeout(timeout):
                return await probe.observe(spec.config)
        except TimeoutError:
            return Observation.failed(f"timed out after {_seconds(timeout)}")
        except ProbeError as err:
            return Observation.failed(str(err))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a probe's unexpected failure is the check's reason, never a crash
            return Observation.failed(describe_error(err))


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:g}s"
