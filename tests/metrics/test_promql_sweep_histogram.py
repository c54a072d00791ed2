"""A swept ``histogram_quantile`` over hand-made argument series: each histogram's quantile at each
step from the buckets present there, placed by its first bucket, and a refusal wherever the per-step
path must decide (histograms that collide once named, buckets that name their histogram apart)."""

from __future__ import annotations

import math
import struct
from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics.test_promql_sweep import _per_step, _range, _series
from vigil.metrics.promql.evaluate import compile_expr
from vigil.metrics.promql.histogram import HistogramQuantile, bucket_quantile
from vigil.metrics.promql.sweep import Stepped
from vigil.metrics.promql.sweep_histogram import quantile_columns
from vigil.metrics.store import SeriesStore


def _node(q: str) -> HistogramQuantile:
    return cast(HistogramQuantile, compile_expr(f"histogram_quantile({q}, rate(x[1m]))").root)


def _bucket(le: str, values: list[float], places: list[int], **labels: str) -> Stepped:
    return Stepped({"__name__": "x", "le": le, **labels}, values, places)


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def test_each_histogram_takes_the_buckets_present_at_each_step() -> None:
    args = [
        _bucket("1", [1.0, 2.0, 0.0], [0, 0, -1], job="a"),
        _bucket("0.5", [0.5, 5.0, 7.0], [1, 1, 1], job="b"),
        _bucket("+Inf", [4.0, 4.0, 9.0], [2, 2, 2], job="a"),
        _bucket("+Inf", [1.0, 6.0, 8.0], [-1, 3, 3], job="b"),
        Stepped({"__name__": "x", "job": "a"}, [3.0, 3.0, 3.0], [4, 4, 4]),  # no le: not a bucket
    ]
    found = quantile_columns(_node("0.5"), args, 3)
    assert found is not None
    series, histogram_of = found
    assert histogram_of == [0, 1, 0, 1, -1]
    assert [s.labels for s in series] == [{"job": "a"}, {"job": "b"}]
    a, b = series
    assert a.places == [0, 0, 2]  # its first bucket there
    assert b.places == [1, 1, 1]
    # Step 1: rank 2 of 4 falls at the top of the bucket (0, 1] that holds 2.
    expected_a = [bucket_quantile(0.5, [(1.0, 1.0), (math.inf, 4.0)]), 1.0, math.nan]
    assert _bits(a.values) == _bits(expected_a)
    assert math.isnan(b.values[0])  # no +Inf bucket yet
    assert b.values[1] == bucket_quantile(0.5, [(0.5, 5.0), (math.inf, 6.0)])


def test_quantiles_out_of_range_and_nan_need_no_buckets() -> None:
    args = [_bucket("1", [1.0], [0]), _bucket("+Inf", [2.0], [1])]
    for q, expected in (("-1", -math.inf), ("2", math.inf), ("NaN", math.nan), ("0", 0.0), ("1", 1.0)):
        found = quantile_columns(_node(q), args, 1)
        assert found is not None
        assert _bits(found[0][0].values) == _bits([expected]), q


def test_equal_bounds_are_added_in_the_steps_order() -> None:
    # Three buckets with the bound 1: their counts add up in the order the step lists them,
    # which differs between the two steps.
    counts = [0.1, 0.2, 0.3]
    args = [
        _bucket("1", [counts[0]] * 2, [0, 2]),
        _bucket("1.0", [counts[1]] * 2, [1, 1]),
        _bucket("1e0", [counts[2]] * 2, [2, 0]),
        _bucket("+Inf", [1.0, 1.0], [3, 3]),
    ]
    found = quantile_columns(_node("0.5"), args, 2)
    assert found is not None
    first = bucket_quantile(0.5, [(1.0, 0.1), (1.0, 0.2), (1.0, 0.3), (math.inf, 1.0)])
    second = bucket_quantile(0.5, [(1.0, 0.3), (1.0, 0.2), (1.0, 0.1), (math.inf, 1.0)])
    assert first != second  # the order shows in the last bits
    assert found[0][0].values == [first, second]


def test_histograms_named_alike_are_left_to_the_per_step_path() -> None:
    args = [_bucket("1", [1.0], [0], job="a"), Stepped({"__name__": "y", "le": "1", "job": "a"}, [1.0], [1])]
    assert quantile_columns(_node("0.5"), args, 1) is None


def test_buckets_that_name_their_histogram_apart_are_left_to_the_per_step_path() -> None:
    # A label set to "" counts as absent in the histogram's key, but not in the name it is given.
    args = [_bucket("1", [1.0], [0], job="a"), _bucket("+Inf", [1.0], [1], job="a", zone="")]
    assert quantile_columns(_node("0.5"), args, 1) is None


HISTOGRAMS = [
    "histogram_quantile(0.5, rate(m[1m]))",
    "histogram_quantile(0.9, sum by (le, i) (rate(m[1m])))",
    "histogram_quantile(0.25, sum by (le) (increase(m[30s])))",
    "histogram_quantile(1, max without (n) (rate(m[1m])))",
    "histogram_quantile(0, sum without (n) (delta(m[1m])))",
    "histogram_quantile(-1, sum by (le) (rate(m[1m])))",
    "histogram_quantile(2, sum by (le, i) (rate(m[1m])))",
    "histogram_quantile(NaN, sum by (le) (rate(m[1m])))",
    "sum(histogram_quantile(0.75, sum by (le, i) (irate(m[1m]))))",
    "topk(1, histogram_quantile(0.75, sum by (le, i) (rate(m[1m]))))",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(_series(), min_size=1, max_size=8),
    les=st.lists(
        st.sampled_from(["0.5", "1", "1.0", "1e0", "+Inf", "NaN", "-1", ""]), min_size=8, max_size=8
    ),
    expr=st.sampled_from(HISTOGRAMS),
    start=st.integers(-100, 900),
    length=st.integers(0, 600),
    step=st.sampled_from([2.0, 4.5, 15.0, 60.0]),
)
def test_random_histograms_sweep_as_they_step(
    data: list[list[tuple[float, float]]], les: list[str], expr: str, start: int, length: int, step: float
) -> None:
    """Buckets in any order, equal, NaN and missing bounds, with or without +Inf, over series
    with gaps, resets and NaN."""
    store = SeriesStore(retention=math.inf)
    for i, samples in enumerate(data):
        labels = {"__name__": "m", "i": str(i % 3), "n": str(i), "le": les[i]}
        for t, value in samples:
            store.append({k: v for k, v in labels.items() if v}, t, value)
    args = (store, float(start), float(start + length), step)
    assert _range(expr, *args) == _per_step(expr, *args)
