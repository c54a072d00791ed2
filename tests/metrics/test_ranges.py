"""Range queries over the real series store: steps, label sets, scalars and Prometheus' bounds."""

from __future__ import annotations

import math

import pytest

from vigil.metrics.promql.evaluate import compile_expr, evaluate
from vigil.metrics.promql.model import PromQLError
from vigil.metrics.ranges import MAX_POINTS, RangeSeries, evaluate_range, steps
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import SeriesStore


def _store() -> SeriesStore:
    store = SeriesStore(retention=10_000.0)
    for t in range(1000, 1100, 10):
        store.append({"__name__": "up", "job": "api"}, float(t), 1.0)
        if t >= 1050:
            store.append({"__name__": "up", "job": "db"}, float(t), 0.0)
    return store


def test_each_label_set_gets_its_points_in_time_order() -> None:
    result = evaluate_range(compile_expr("up"), 1000.0, 1090.0, 30.0, _store())
    assert all(isinstance(s, RangeSeries) for s in result)
    by_job = {s.labels["job"]: s.points for s in result if isinstance(s, RangeSeries)}
    assert by_job["api"] == [(1000.0, 1.0), (1030.0, 1.0), (1060.0, 1.0), (1090.0, 1.0)]
    assert by_job["db"] == [(1060.0, 0.0), (1090.0, 0.0)]


def test_a_scalar_expression_gives_plain_points() -> None:
    assert evaluate_range(compile_expr("1 + 1"), 0.0, 2.0, 1.0, _store()) == [
        (0.0, 2.0),
        (1.0, 2.0),
        (2.0, 2.0),
    ]


def test_steps_count_in_milliseconds() -> None:
    assert steps(0.0, 0.3, 0.1) == [0.0, 0.1, 0.2, 0.3]


def test_the_most_steps_prometheus_takes_are_taken() -> None:
    assert len(steps(0.0, MAX_POINTS * 1.0, 1.0)) == MAX_POINTS + 1


@pytest.mark.parametrize(
    ("start", "end", "step", "words"),
    [
        (0.0, 10.0, 0.0, "step"),
        (10.0, 0.0, 1.0, "before start"),
        (0.0, MAX_POINTS + 1.0, 1.0, "maximum resolution"),
    ],
)
def test_windows_prometheus_refuses_are_refused(start: float, end: float, step: float, words: str) -> None:
    with pytest.raises(PromQLError, match=words):
        steps(start, end, step)


@pytest.mark.parametrize(
    "expr", ["up", "up offset 25s", 'up{job="db"}', "rate(up[30s])", "sum(up)", "sort_desc(up)"]
)
def test_a_range_is_each_steps_instant_query(expr: str) -> None:
    """The range paths (a bare selector walked once per series, the others per step over one
    fetch) answer what the instant query answers at each step, stale markers included."""
    store = _store()
    store.append({"__name__": "up", "job": "api"}, 1100.0, STALE_NAN)  # the series ends here
    store.append({"__name__": "up", "job": "db"}, 1100.0, math.nan)  # a NaN sample, not an end
    compiled = compile_expr(expr)
    expected: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for at in steps(990.0, 1500.0, 7.0):
        result = evaluate(compiled, at, store, lookback=300.0)
        assert not isinstance(result, float)
        for sample in result:
            expected.setdefault(tuple(sorted(sample.labels.items())), []).append((at, sample.value))
    got = evaluate_range(compiled, 990.0, 1500.0, 7.0, store)
    assert [tuple(sorted(s.labels.items())) for s in got if isinstance(s, RangeSeries)] == sorted(expected)
    for series in got:
        assert isinstance(series, RangeSeries)
        points = expected[tuple(sorted(series.labels.items()))]
        assert [t for t, _ in series.points] == [t for t, _ in points]
        assert all(
            a == b or (math.isnan(a) and math.isnan(b))
            for (_, a), (_, b) in zip(series.points, points, strict=True)
        )
