"""Range queries over the real series store: steps, label sets, scalars and Prometheus' bounds."""

from __future__ import annotations

import pytest

from vigil.metrics.promql.evaluate import compile_expr
from vigil.metrics.promql.model import PromQLError
from vigil.metrics.ranges import MAX_POINTS, RangeSeries, evaluate_range, steps
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
