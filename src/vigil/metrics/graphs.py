"""The series behind the dashboard's graphs, on one time axis, with a bounded number of points.

A check's graph reads its raw samples from the series store (the last hour or so) and, before
them, the 5-minute buckets of ``metric_history`` (``metrics.history``): the same series at two
resolutions, each averaged into bins wide enough to keep the points under the caller's bound.
A rule's graph evaluates its expression over the series store at evenly spaced steps
(``metrics.ranges``), as Prometheus' ``query_range`` would.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.metrics import history
from vigil.metrics.promql import CompiledExpr
from vigil.metrics.promql.model import format_labels
from vigil.metrics.ranges import RangeSeries, evaluate_range, steps
from vigil.metrics.samples import CHECK_DURATION, CHECK_UP
from vigil.metrics.series import Matcher, MatchOp, SeriesSource
from vigil.metrics.store import NAME
from vigil.metrics.threshold import Threshold

MAX_LINES = 20  # series drawn on one graph; the rest are counted, not drawn
MIN_STEP = 1.0  # seconds: samples are whole milliseconds apart, graphs need no finer steps
CHUNK = 50  # steps of a rule's graph evaluated between turns of the event loop


@dataclass(frozen=True)
class Line:
    """One drawn series: its name, the unit of its values, one value (or None) per time."""

    name: str
    unit: str
    values: list[float | None]


@dataclass(frozen=True)
class Graph:
    start: float
    end: float
    times: list[float]
    lines: list[Line]
    threshold: Threshold | None = None
    left_out: int = 0  # series beyond ``MAX_LINES``
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(v is not None for line in self.lines for v in line.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "times": self.times,
            "lines": [{"name": x.name, "unit": x.unit, "values": x.values} for x in self.lines],
            "threshold": (
                {"op": self.threshold.op, "value": self.threshold.value} if self.threshold else None
            ),
            "left_out": self.left_out,
            "notes": self.notes,
            "empty": self.empty,
        }

    def summary(self) -> list[dict[str, Any]]:
        """Per line: points, lowest, mean, highest and latest value (the page's table without JS)."""
        rows = []
        for line in self.lines:
            seen = [v for v in line.values if v is not None and math.isfinite(v)]
            rows.append(
                {
                    "name": line.name,
                    "unit": line.unit,
                    "points": len(seen),
                    "min": min(seen) if seen else None,
                    "avg": math.fsum(seen) / len(seen) if seen else None,
                    "max": max(seen) if seen else None,
                    "last": seen[-1] if seen else None,
                }
            )
        return rows


# A measurement: time, value and how many samples it stands for (a history bucket's count).
Weighted = tuple[float, float, int]


async def check_graph(
    source: SeriesSource,
    engine: AsyncEngine,
    service: str,
    check: str,
    start: float,
    end: float,
    points: int,
) -> Graph:
    """Latency (mean milliseconds) and up (the share of passing runs, 0 to 1) of one check over
    ``[start, end]``, in at most about ``points`` bins for each of its two resolutions."""
    width = max((end - start) / points, MIN_STEP)
    labels = {"service": service, "check": check}
    columns: dict[str, dict[float, tuple[float, int]]] = {}
    for name, scale in ((CHECK_DURATION, 1000.0), (CHECK_UP, 1.0)):
        raw = _raw(source, name, labels, start, end)
        raw_from = raw[0][0] if raw else end
        old = [
            (p.at.timestamp() + history.STEP / 2, p.avg, p.count)
            for p in await history.read(engine, name, labels, _utc(start), _utc(raw_from))
            if p.at.timestamp() + history.STEP <= raw_from
        ]
        binned = _bins(old, max(width, history.STEP))
        binned.update(_bins(raw, width))
        columns[name] = {t: (mean * scale, count) for t, (mean, count) in binned.items()}
    times = sorted(columns[CHECK_DURATION].keys() | columns[CHECK_UP].keys())
    return Graph(
        start,
        end,
        times,
        [
            Line("latency", "ms", _column(columns[CHECK_DURATION], times)),
            Line("up", "ratio", _column(columns[CHECK_UP], times)),
        ],
    )


async def expression_graph(
    expr: CompiledExpr,
    source: SeriesSource,
    start: float,
    end: float,
    points: int,
    threshold: Threshold | None = None,
    keep: Callable[[Mapping[str, str]], bool] | None = None,
    *,
    crossing: bool = False,
) -> Graph:
    """``expr`` at ``points`` evenly spaced times over ``[start, end]``, a line per label set
    (only those ``keep`` accepts, when given; with ``crossing``, only those that cross
    ``threshold`` somewhere: the series that alerted).

    Evaluated ``CHUNK`` steps at a time, letting the event loop run in between: a heavy rule
    over many series costs its cycle time at each step, and the loop also runs the checks."""
    step = max(math.ceil((end - start) / max(points - 1, 1)), MIN_STEP)
    # Stepped back from ``end``, so that the newest point is now, not up to a step before it.
    times = steps(end - ((end - start) // step) * step, end, step)
    index = {t: i for i, t in enumerate(times)}
    found: dict[tuple[tuple[str, str], ...], tuple[str, list[float | None]]] = {}
    for i in range(0, len(times), CHUNK):
        chunk = times[i : i + CHUNK]
        result = evaluate_range(expr, chunk[0], chunk[-1], step, source)
        shaped = [(s.labels, s.points) if isinstance(s, RangeSeries) else ({}, [s]) for s in result]
        for labels, pairs in shaped:
            if keep is not None and not keep(labels):
                continue
            key = tuple(sorted(labels.items()))
            if key not in found:
                found[key] = (format_labels(labels) if labels else "value", [None] * len(times))
            values = found[key][1]
            for at, value in pairs:
                values[index[at]] = value if math.isfinite(value) else None
        await asyncio.sleep(0)
    if crossing and threshold is not None:
        found = {k: line for k, line in found.items() if any(_crosses(threshold, v) for v in line[1])}
    lines = [Line(name, "", values) for name, values in list(found.values())[:MAX_LINES]]
    return Graph(start, end, times, lines, threshold, left_out=max(len(found) - MAX_LINES, 0))


def _crosses(threshold: Threshold, value: float | None) -> bool:
    return value is not None and threshold.crossed_by(value)


def _raw(
    source: SeriesSource, name: str, labels: Mapping[str, str], start: float, end: float
) -> list[Weighted]:
    matchers = [Matcher(NAME, MatchOp.EQUAL, name)]
    matchers += [Matcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
    out: list[Weighted] = []
    for series in source.select(matchers, start, end):  # more than one if its kind was edited
        out += [(t, v, 1) for t, v in zip(series.timestamps, series.values, strict=True) if not math.isnan(v)]
    out.sort()
    return out


def _bins(samples: Iterable[Weighted], width: float) -> dict[float, tuple[float, int]]:
    """The weighted mean and weight of the samples in each ``width``-wide bin, by the bin's middle."""
    sums: dict[float, tuple[float, int]] = {}
    for t, value, count in samples:
        key = (math.floor(t / width) + 0.5) * width
        total, weight = sums.get(key, (0.0, 0))
        sums[key] = (total + value * count, weight + count)
    return {key: (total / weight, weight) for key, (total, weight) in sums.items()}


def _column(binned: Mapping[float, tuple[float, int]], times: list[float]) -> list[float | None]:
    return [binned[t][0] if t in binned else None for t in times]


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)
