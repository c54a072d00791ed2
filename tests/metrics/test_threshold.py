"""A rule's threshold: the constant its expression compares with, seen from the measured side."""

from __future__ import annotations

import pytest

from vigil.metrics.promql import evaluate
from vigil.metrics.store import SeriesStore
from vigil.metrics.threshold import Threshold, split


@pytest.mark.parametrize(
    ("expr", "threshold"),
    [
        ("avg(load) > 0.8", Threshold(">", 0.8)),
        ("0.8 < avg(load)", Threshold(">", 0.8)),
        ("(load <= -1)", Threshold("<=", -1.0)),
        ("5 >= load", Threshold("<=", 5.0)),
        ("sum(rate(errors[5m])) / sum(rate(requests[5m])) > 0.05", Threshold(">", 0.05)),
        ("load == 0", Threshold("==", 0.0)),
        ("load > bool 1", None),  # every series stays, as 0 or 1: drawn as it is
        ("load > other", None),
        ("load > 1 and other", None),
        ("load", None),
        ("load * 2", None),
    ],
)
def test_the_threshold_of_an_expression(expr: str, threshold: Threshold | None) -> None:
    assert split(expr).threshold == threshold


def test_the_measured_side_keeps_the_values_the_comparison_would_drop() -> None:
    store = SeriesStore()
    store.append({"__name__": "load", "host": "a"}, 100.0, 0.5)
    store.append({"__name__": "load", "host": "b"}, 100.0, 0.9)
    parts = split("load > 0.8")
    measured = evaluate(parts.measured, 100.0, store)
    assert not isinstance(measured, float)
    assert sorted(s.value for s in measured) == [0.5, 0.9]
