"""Downsampled history: the in-memory series store keeps an hour; charts want days.

Every ``step`` seconds the writer turns each series of a few metrics into one row per completed
step-aligned bucket (count, avg, min, max, last) in ``metric_history``, and drops rows older than
``retention``. At 300 s a check costs 288 rows a day per metric, against 5,760 raw samples.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock
from vigil.metrics.series import Matcher, MatchOp
from vigil.metrics.store import NAME, SeriesStore
from vigil.store.tables import MetricHistoryRow

log = logging.getLogger("vigil.history")

STEP = 300.0
DEFAULT_NAMES = ("vigil_check_up", "vigil_check_duration_seconds")
KEY_LIMIT = 1000  # the width of ``series_key``
# Wake this long after a boundary rather than on it, so that samples appended in the same
# instant (a check that started just before the boundary) are in the store when we read.
GRACE = 5.0


@dataclass(frozen=True)
class HistoryPoint:
    labels: Mapping[str, str]
    at: datetime
    count: int
    avg: float
    min: float
    max: float
    last: float


class HistoryWriter:
    def __init__(
        self,
        store: SeriesStore,
        engine: AsyncEngine,
        clock: Clock,
        *,
        step: float = STEP,
        retention: float = 30 * 86400,
        names: Sequence[str] = DEFAULT_NAMES,
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.step = step
        self.retention = retention
        self.names = tuple(names)
        self._written: float | None = None  # start of the newest bucket in the table
        self._loaded = False

    async def flush_once(self, now: datetime) -> int:
        """Write every complete bucket after the last one written; returns the rows inserted."""
        if not self._loaded:
            self._written = await self._newest_bucket()
            self._loaded = True
        upto = math.floor(now.timestamp() / self.step) * self.step  # the bucket in progress
        since = -math.inf if self._written is None else self._written + self.step
        rows = [row for name in self.names for row in self._aggregate(name, since, upto)]
        cutoff = datetime.fromtimestamp(now.timestamp() - self.retention, UTC)
        async with self.engine.begin() as conn:
            if rows:
                await conn.execute(insert(MetricHistoryRow), rows)
            await conn.execute(delete(MetricHistoryRow).where(MetricHistoryRow.bucket_start < cutoff))
        # Only once committed: a failed write is retried from the same bucket next time.
        if rows:
            self._written = max(row["bucket_start"].timestamp() for row in rows)
        return len(rows)

    async def run(self) -> None:
        """Flush just after each bucket boundary until cancelled."""
        while True:
            now = self.clock.now().timestamp()
            boundary = (math.floor(now / self.step) + 1) * self.step
            await self.clock.sleep(boundary - now + GRACE)
            try:
                await self.flush_once(self.clock.now())
            except (SQLAlchemyError, OSError) as err:
                # A store that is down for a while must not end the loop; the buckets are
                # written on the next turn, as long as the in-memory store still has them.
                log.warning("could not write metric history: %s", str(err).splitlines()[0])

    def _aggregate(self, name: str, since: float, upto: float) -> list[dict[str, Any]]:
        start = since - self.step if math.isfinite(since) else -math.inf
        rows: list[dict[str, Any]] = []
        for series in self.store.select([Matcher(NAME, MatchOp.EQUAL, name)], start, upto):
            key = series_key(series.labels)
            if len(key) > KEY_LIMIT:
                continue  # far beyond a check's labels; not chart material
            labels = {k: v for k, v in series.labels.items() if k != NAME}
            buckets: dict[float, list[float]] = {}
            for t, value in zip(series.timestamps, series.values, strict=True):
                # NaN covers stale markers too: neither is a measurement to average.
                if since <= t < upto and not math.isnan(value):
                    buckets.setdefault(math.floor(t / self.step) * self.step, []).append(value)
            for bucket, values in buckets.items():
                rows.append(
                    {
                        "series_key": key,
                        "name": name,
                        "labels": labels,
                        "bucket_start": datetime.fromtimestamp(bucket, UTC),
                        "count": len(values),
                        "avg": math.fsum(values) / len(values),
                        "min": min(values),
                        "max": max(values),
                        "last": values[-1],
                    }
                )
        return rows

    async def _newest_bucket(self) -> float | None:
        query = select(func.max(MetricHistoryRow.bucket_start)).where(MetricHistoryRow.name.in_(self.names))
        async with self.engine.connect() as conn:
            newest = (await conn.execute(query)).scalar()
        return None if newest is None else _utc(newest).timestamp()


async def read(
    engine: AsyncEngine, name: str, labels_subset: Mapping[str, str], start: datetime, end: datetime
) -> list[HistoryPoint]:
    """Buckets of ``name`` starting in ``[start, end)`` whose series carry every label of
    ``labels_subset``, in time order."""
    query = select(MetricHistoryRow).where(
        MetricHistoryRow.name == name,
        MetricHistoryRow.bucket_start >= start,
        MetricHistoryRow.bucket_start < end,
    )
    # The key is canonical JSON, so each wanted pair is a substring of it: a portable narrowing
    # (no JSON operators differ between SQLite and PostgreSQL), confirmed exactly below.
    for label, value in labels_subset.items():
        query = query.where(MetricHistoryRow.series_key.contains(_pair(label, value), autoescape=True))
    query = query.order_by(MetricHistoryRow.bucket_start, MetricHistoryRow.id)
    async with engine.connect() as conn:
        # As mappings: on a plain row, ``count`` would be the tuple method, not the column.
        rows = (await conn.execute(query)).mappings().all()
    return [
        HistoryPoint(
            r["labels"], _utc(r["bucket_start"]), r["count"], r["avg"], r["min"], r["max"], r["last"]
        )
        for r in rows
        if all(r["labels"].get(k) == v for k, v in labels_subset.items())
    ]


def series_key(labels: Mapping[str, str]) -> str:
    """One series' labels (``__name__`` included) as canonical JSON: sorted, no spaces."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def _pair(label: str, value: str) -> str:
    return f"{json.dumps(label)}:{json.dumps(value)}"


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Vigil stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
