"""A check's downsampled history for charts: ``/api/v1/checks/{check_id}/history``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from vigil.errors import NotFoundError
from vigil.metrics.history import STEP, HistoryPoint, read
from vigil.metrics.samples import CHECK_DURATION, CHECK_UP

router = APIRouter(prefix="/api/v1", tags=["api"])


@router.get("/checks/{check_id}/history", summary="A check's availability and duration, per 5 minutes")
async def check_history(
    request: Request, check_id: str, hours: Annotated[int, Query(ge=1, le=720)] = 24
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    if check_id not in runtime.board.checks:
        raise NotFoundError(f"no check {check_id!r}; checks are addressed as service.check")
    service, check = check_id.split(".", 1)
    labels = {"service": service, "check": check}
    end: datetime = runtime.clock.now()
    start = end - timedelta(hours=hours)
    up = _merge(await read(runtime.engine, CHECK_UP, labels, start, end))
    duration = _merge(await read(runtime.engine, CHECK_DURATION, labels, start, end))
    points = [
        {
            "at": at.isoformat(),
            "up_avg": up[at].avg if at in up else None,
            "duration_ms_avg": duration[at].avg * 1000.0 if at in duration else None,
            "duration_ms_max": duration[at].max * 1000.0 if at in duration else None,
            "count": (up.get(at) or duration[at]).count,
        }
        for at in sorted(up.keys() | duration.keys())
    ]
    return {"check": check_id, "step_s": int(STEP), "points": points}


def _merge(points: Iterable[HistoryPoint]) -> dict[datetime, HistoryPoint]:
    """One point per bucket. A check has one series per metric, unless its labels changed within
    the window (its ``kind`` edited in the stack file): then the series of a bucket are combined."""
    merged: dict[datetime, HistoryPoint] = {}
    for point in points:
        seen = merged.get(point.at)
        if seen is None:
            merged[point.at] = point
            continue
        count = seen.count + point.count
        merged[point.at] = HistoryPoint(
            seen.labels,
            point.at,
            count,
            (seen.avg * seen.count + point.avg * point.count) / count,
            min(seen.min, point.min),
            max(seen.max, point.max),
            point.last,
        )
    return merged
