"""The demo target's chaos switch: which faults are in force, and what ``POST /chaos`` accepts.

Faults add up (``db_down`` then ``slow`` gives both) until ``recover`` clears them all, so that a
demo can show a slow answer from a degraded service.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChaosRequest(BaseModel):
    """The body of ``POST /chaos``; anything else is a 422 naming the modes accepted, so a typo
    never passes for a fault."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fail", "slow", "recover", "db_down", "cache_down", "worker_down", "vendor_outage"]
    latency_ms: float = Field(1500.0, ge=0, le=60_000, description="Delay added by slow.")
    error_rate: float = Field(1.0, gt=0, le=1, description="Share of /api/answer requests failed by fail.")


@dataclass
class Chaos:
    """The faults in force; all off is a healthy target."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    db_down: bool = False
    cache_down: bool = False
    worker_down: bool = False  # the worker stops pinging its heartbeat (vigil.demo.worker)
    vendor_outage: bool = False  # the vendor's status page reports an outage (vigil.demo.vendor)

    def apply(self, request: ChaosRequest) -> None:
        if request.mode == "recover":
            self.error_rate, self.latency_ms = 0.0, 0.0
            self.db_down = self.cache_down = self.worker_down = self.vendor_outage = False
        elif request.mode == "fail":
            self.error_rate = request.error_rate
        elif request.mode == "slow":
            self.latency_ms = request.latency_ms
        else:
            setattr(self, request.mode, True)  # one of the flags, named as the mode

    def modes(self) -> list[str]:
        flags = {"fail": self.error_rate > 0, "slow": self.latency_ms > 0}
        flags |= {"db_down": self.db_down, "cache_down": self.cache_down}
        flags |= {"worker_down": self.worker_down, "vendor_outage": self.vendor_outage}
        return [mode for mode, on in flags.items() if on]

    def as_dict(self) -> dict[str, Any]:
        modes = self.modes()
        return {
            "mode": "+".join(modes) or "normal",
            "modes": modes,
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
        }

    async def delay(self) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000.0)
