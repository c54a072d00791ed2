"""The recovery point: a job's check (``backups.<job>``) judged from its artefacts' manifests.

It fails while the last backup or verification failed, when there is no verified backup, and
when the newest verified one is older than ``rpo``. Values: the newest artefact's
``size_bytes`` and ``duration_seconds``, and ``recovery_point_seconds`` (the age of the
newest verified backup).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from vigil.backups.jobs import Outcome
from vigil.backups.manifest import Manifest
from vigil.config.durations import format_duration
from vigil.probes.base import Observation


def judge(
    listed: list[tuple[Path, Manifest]], last: Outcome | None, rpo: float | None, now: datetime
) -> Observation:
    values: dict[str, float] = {}
    if listed:
        values["size_bytes"] = float(listed[0][1].size)
        values["duration_seconds"] = listed[0][1].duration_s
    good = next((m for _, m in listed if m.good), None)
    age = (now - good.created_at).total_seconds() if good else None
    if age is not None:
        values["recovery_point_seconds"] = round(age, 3)
    if last is not None and not last.ok:
        return Observation.failed(f"the last {last.action} failed: {last.reason}", **values)
    if good is None or age is None:
        return Observation.failed("no verified backup yet", **values)
    if rpo is not None and age > rpo:
        moment = good.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return Observation.failed(
            f"the newest verified backup is {format_duration(float(round(age)))} old (taken {moment}); "
            f"rpo {format_duration(rpo)}",
            **values,
        )
    return Observation.passed(**values)


def stale_at(listed: list[tuple[Path, Manifest]], rpo: float | None) -> datetime | None:
    """When the newest verified backup in ``listed`` grows older than ``rpo``; None without either."""
    good = next((m for _, m in listed if m.good), None)
    if good is None or rpo is None:
        return None
    return good.created_at + timedelta(seconds=rpo)
