"""``system``: this host's disk free %, memory used % or CPU % against thresholds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind

# Long enough for the kernel's tick counters to move on an idle host, short enough to fit any timeout.
CPU_SAMPLE_SECONDS = 0.2


class SystemExpect(StrictModel):
    free_percent_min: float | None = Field(
        None, ge=0, le=100, description="Disk: free %; memory: available %. Not for cpu."
    )
    used_percent_max: float | None = Field(None, ge=0, le=100)


class SystemCheck(CheckBase):
    kind: ClassVar[str] = "system"

    system: Literal["disk", "memory", "cpu"]
    path: str = Field("/", description="For disk: a path on the filesystem to measure.")
    expect: SystemExpect = Field(default_factory=SystemExpect)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _cpu_has_no_free_percent(self) -> SystemCheck:
        if self.system == "cpu" and self.expect.free_percent_min is not None:
            raise ValueError(
                "expect.free_percent_min does not apply to cpu; use expect.used_percent_max instead"
            )
        return self

    @property
    def subject(self) -> str:
        """How reasons name what was measured: ``disk /var``, ``memory``, ``cpu``."""
        return f"disk {self.path}" if self.system == "disk" else self.system


@dataclass(frozen=True)
class Reading:
    """One measurement: the two percentages judged, what ``free`` means here, and values to keep."""

    used_percent: float
    free_percent: float
    free_word: str
    values: dict[str, float]


class SystemProbe:
    async def observe(self, check: SystemCheck) -> Observation:
        if check.system == "disk":
            reading = await _disk(check.path)
        elif check.system == "memory":
            reading = _memory()
        else:
            reading = await _cpu()
        return _judge(check, reading)

    async def close(self) -> None:
        return None


async def _disk(path: str) -> Reading:
    import psutil

    try:
        # statvfs on a hung NFS mount blocks in the kernel; in a thread it only costs that thread,
        # and the engine's timeout still answers (the thread finishes or stays stuck on its own).
        usage = await asyncio.to_thread(psutil.disk_usage, path)
    except (FileNotFoundError, NotADirectoryError):
        raise ProbeError(f"path {path} does not exist") from None
    # psutil's percent is used / (used + free), like df: blocks reserved for root count as neither.
    return Reading(
        used_percent=usage.percent,
        free_percent=100.0 - usage.percent,
        free_word="free",
        values={
            "free_percent": round(100.0 - usage.percent, 2),
            "used_percent": usage.percent,
            "free_bytes": float(usage.free),
        },
    )


def _memory() -> Reading:
    import psutil

    # Reads /proc/meminfo: no I/O that can hang, so no thread needed.
    memory = psutil.virtual_memory()
    # "available" (not "free") is what new work can get without swapping: caches count as room.
    available_percent = memory.available / memory.total * 100.0 if memory.total else 0.0
    return Reading(
        used_percent=memory.percent,
        free_percent=available_percent,
        free_word="available",
        values={"used_percent": memory.percent, "available_bytes": float(memory.available)},
    )


async def _cpu() -> Reading:
    import psutil

    # Two readings of the cumulative counters around a sleep: psutil.cpu_percent(interval=...) would
    # block the loop, and interval=None depends on whoever called it last.
    total_before, idle_before = _split(psutil.cpu_times())
    await asyncio.sleep(CPU_SAMPLE_SECONDS)
    total_after, idle_after = _split(psutil.cpu_times())
    elapsed = total_after - total_before
    busy = elapsed - (idle_after - idle_before)
    used = round(min(100.0, max(0.0, busy / elapsed * 100.0)), 1) if elapsed > 0 else 0.0
    return Reading(
        used_percent=used, free_percent=100.0 - used, free_word="idle", values={"used_percent": used}
    )


def _split(times: tuple[float, ...]) -> tuple[float, float]:
    """Total and idle seconds from a ``cpu_times()`` reading (its fields differ per platform)."""
    total = sum(times)
    # On Linux guest time is already counted inside user and nice; adding it again would inflate
    # the total (psutil's own cpu_percent makes the same subtraction).
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = getattr(times, "idle", 0.0) + getattr(times, "iowait", 0.0)
    return float(total), float(idle)


def _judge(check: SystemCheck, reading: Reading) -> Observation:
    expect = check.expect
    if expect.free_percent_min is not None and reading.free_percent < expect.free_percent_min:
        return Observation.failed(
            f"{check.subject} {reading.free_percent:.1f}% {reading.free_word}, "
            f"expected at least {expect.free_percent_min:g}%",
            **reading.values,
        )
    if expect.used_percent_max is not None and reading.used_percent > expect.used_percent_max:
        return Observation.failed(
            f"{check.subject} {reading.used_percent:.1f}% used, "
            f"expected at most {expect.used_percent_max:g}%",
            **reading.values,
        )
    return Observation.passed(**reading.values)


KIND = ProbeKind("system", SystemCheck, SystemProbe, loads=("psutil",))
