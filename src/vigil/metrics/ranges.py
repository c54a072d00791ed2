"""Range queries: an expression evaluated at every step of a window, one series per label set.

As Prometheus' ``query_range`` does it: the instant query at ``start``, ``start + step``, … up to
``end``, each step's samples filed under their labels. The API's ``query_range``, the dashboard's
graphs and the rule pages all read through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vigil.metrics.promql.evaluate import DEFAULT_LOOKBACK, CompiledExpr, evaluate
from vigil.metrics.promql.model import PromQLError
from vigil.metrics.series import SeriesSource

# Prometheus refuses a range query of more than 11,000 points per series.
MAX_POINTS = 11_000


@dataclass(slots=True)
class RangeSeries:
    """One series of a range query: its labels and its ``(time, value)`` points in time order."""

    labels: Mapping[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def steps(start: float, end: float, step: float) -> list[float]:
    """The evaluation times of a range query; ``PromQLError`` for a window Prometheus refuses."""
    if step <= 0:
        raise PromQLError("zero or negative query resolution step widths are not accepted")
    if end < start:
        raise PromQLError("end timestamp must not be before start time")
    # Times in whole milliseconds, as Prometheus steps them, so that 0.1-second steps do not drift.
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), max(1, round(step * 1000))
    count = (end_ms - start_ms) // step_ms + 1
    if count > MAX_POINTS:
        raise PromQLError(
            f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries; "
            "try decreasing the query resolution (?step=XX)"
        )
    return [(start_ms + i * step_ms) / 1000.0 for i in range(count)]


def evaluate_range(
    expr: CompiledExpr,
    start: float,
    end: float,
    step: float,
    source: SeriesSource,
    *,
    lookback: float = DEFAULT_LOOKBACK,
) -> list[RangeSeries] | list[tuple[float, float]]:
    """The points of ``expr`` over ``[start, end]`` every ``step`` seconds: one ``RangeSeries`` per
    label set, in the order first seen, or for a scalar expression its ``(time, value)`` points."""
    times = steps(start, end, step)
    first, last = start, end  # what `@ start()` and `@ end()` read at, as Prometheus: not the last step
    if expr.returns_scalar:
        scalar: list[tuple[float, float]] = []
        for at in times:
            value = evaluate(expr, at, source, lookback=lookback, start=first, end=last)
            assert isinstance(value, float)
            scalar.append((at, value))
        return scalar
    by_labels: dict[tuple[tuple[str, str], ...], RangeSeries] = {}
    for at in times:
        result = evaluate(expr, at, source, lookback=lookback, start=first, end=last)
        assert not isinstance(result, float)
        for sample in result:
            key = tuple(sorted(sample.labels.items()))
            series = by_labels.get(key)
            if series is None:
                series = by_labels[key] = RangeSeries(sample.labels)
            series.points.append((at, sample.value))
    return list(by_labels.values())
