"""Swept range functions answer, bit for bit, what the instant query answers at each step: over
gaps, counter resets, stale markers, NaN samples, series that start or end inside the range,
millisecond timestamps, and steps shorter or longer than the functions' ranges."""

from __future__ import annotations

import math
import random
import struct
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.metrics.promql.evaluate import compile_expr, evaluate
from vigil.metrics.promql.model import PromQLError, VectorNode
from vigil.metrics.promql.sweep import leaves
from vigil.metrics.promql.sweep_aggregate import plan
from vigil.metrics.ranges import RangeSeries, evaluate_range, steps
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import SeriesStore

Table = dict[tuple[tuple[str, str], ...], list[tuple[float, bytes]]]


def _store() -> SeriesStore:
    store = SeriesStore(retention=math.inf)
    rng = random.Random(7)
    value = 0.0
    for t in range(1000, 3001, 15):  # a counter with resets and a gap
        if 1500 < t < 1800:
            continue
        value = 0.0 if t % 600 == 0 else value + rng.randint(0, 9)
        store.append({"__name__": "c", "job": "a", "instance": "1"}, float(t), value)
    value = 5.0
    t2 = 2000.123  # appears mid-range, irregular, millisecond times
    while t2 < 3000:
        value = value + rng.random() * 4 if rng.random() > 0.05 else 1.0
        store.append({"__name__": "c", "job": "a", "instance": "2"}, t2, value)
        t2 = round(t2 + rng.choice([3.5, 7.25, 13.0, 40.0]), 3)
    value = 100.0
    for t in range(1200, 2801, 10):  # a NaN sample, then stale, then back
        sample = math.nan if t == 1400 else STALE_NAN if t == 2000 else value
        if 2000 < t < 2200:
            continue
        store.append({"__name__": "c", "job": "b", "instance": "1"}, float(t), sample)
        value += 3.0
    for t in range(1000, 3001, 20):  # a gauge: negative, a +Inf, repeated values
        gauge = math.inf if t == 2400 else float(rng.choice([-2, -1, 0, 0, 3, 7]))
        store.append({"__name__": "g", "job": "a"}, float(t), gauge)
    for t in range(2500, 2900, 15):  # d meets c{job="a",instance="1"} without its name
        store.append({"__name__": "d", "job": "a", "instance": "1"}, float(t), float(t))
    store.append({"__name__": "e", "job": "b", "instance": "1"}, 2900.0, 1.0)  # after c's
    for bound, share in (("0.1", 0.2), ("0.5", 0.6), ("1", 0.9), ("+Inf", 1.0)):
        for t in range(1000, 3001, 15):
            count = share * (t - 1000) + (0.0 if t < 2000 or bound != "0.5" else 50.0)
            store.append({"__name__": "h_bucket", "le": bound, "job": "a"}, float(t), count)
    _histograms(store, rng)
    return store


def _histograms(store: SeriesStore, rng: random.Random) -> None:
    """Histograms that are hard to get right: no +Inf bucket and a counter reset (job b, two
    instances), equal and NaN bounds in series that start apart (job c), series without or with a
    malformed le, and histograms that differ only by name (h2 meets h_bucket, never h3)."""
    # Their buckets interleave in the store: instance 1 has the first and the last.
    for bound, instance in (("0.1", "1"), ("0.1", "2"), ("1", "2"), ("1", "1"), ("10", "2"), ("10", "1")):
        count = 0.0
        for t in range(1000, 3001, 15):
            count = 0.0 if t == 2200 else count + rng.randint(0, 5) * float(bound)
            labels = {"__name__": "h_bucket", "le": bound, "job": "b", "instance": instance}
            store.append(labels, float(t), count)
    bounds = ["0.25", "1", "1.0", "1e0", "NaN", "+Inf", "abc", ""]
    # Instance 2's buckets come first in the store, in the other order: once they start, the steps
    # list job c's buckets summed without instance in that order instead.
    for instance, first, order in (("2", 2000.5, bounds[::-1]), ("1", 1000.0, bounds)):
        for bound in order:
            t, count = first, 0.0
            while t < 3000:
                count += rng.random() * 3
                labels = {"__name__": "h_bucket", "le": bound, "job": "c", "instance": instance}
                store.append({k: v for k, v in labels.items() if v}, t, count)
                t += rng.choice([10.0, 15.0, 30.0])
    for name, times in (("h2_bucket", range(2500, 2901, 15)), ("h3_bucket", range(1000, 1401, 15))):
        for bound in ("1", "+Inf"):
            for t in times:
                store.append({"__name__": name, "le": bound, "job": "a"}, float(t), float(t - 900))


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _per_step(expr: str, store: SeriesStore, start: float, end: float, step: float) -> Table | str:
    """The oracle: the instant query at every step, or the error it stops at."""
    compiled = compile_expr(expr)
    table: Table = {}
    for at in steps(start, end, step):
        try:
            result = evaluate(compiled, at, store, start=start, end=end)
        except PromQLError as err:
            return str(err)
        assert not isinstance(result, float)
        for sample in result:
            key = tuple(sorted(sample.labels.items()))
            table.setdefault(key, []).append((at, _bits(sample.value)))
    return table


def _range(expr: str, store: SeriesStore, start: float, end: float, step: float) -> Table | str:
    try:
        got = evaluate_range(compile_expr(expr), start, end, step, store)
    except PromQLError as err:
        return str(err)
    table: Table = {}
    for series in got:
        assert isinstance(series, RangeSeries)
        table[tuple(sorted(series.labels.items()))] = [(t, _bits(v)) for t, v in series.points]
    return table


# Trends and absent_over_time over a plain range selector, swept too.
TRENDS = [
    "predict_linear(g[5m], 600)",
    "predict_linear(c[1m] offset 30s, -60)",
    "holt_winters(g[5m], 0.5, 0.5)",
    "double_exponential_smoothing(c[2m], 0.1, 0.9)",
    "absent_over_time(c[1m])",
    'absent_over_time(c{job="b"}[30s])',
    'absent_over_time(nothing{job="x"}[1m])',
    "sum by (job) (predict_linear(c[2m], 60))",
]
EXPRESSIONS = [
    "rate(c[1m])",
    "rate(c[5m])",
    "rate(c[45s])",
    "rate(c[1m] offset 30s)",
    "increase(c[2m])",
    "delta(g[1m])",
    "irate(c[1m])",
    "idelta(g[1m])",
    "sum_over_time(g[1m])",
    "avg_over_time(g[2m])",
    "count_over_time(c[1m])",
    "min_over_time(g[1m])",
    "max_over_time(c[30s])",
    "last_over_time(c[1m])",
    "present_over_time(c[1m])",
    "changes(g[5m])",
    "resets(c[5m])",
    "quantile_over_time(0.75, g[2m])",
    "stddev_over_time(g[2m])",
    "stdvar_over_time(c[1m])",
    "deriv(g[5m])",
    "sum by (job) (rate(c[1m]))",
    "avg(rate(c[1m]))",
    "max without (instance) (increase(c[2m]))",
    "count(rate(c[1m]))",
    "topk(1, rate(c[1m]))",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))",
    "histogram_quantile(0.5, rate(h_bucket[2m]))",
    "rate(c[1m]) * 60 > 5",
    "rate(c[1m]) / ignoring(instance) group_left sum by (job) (rate(c[1m]))",
    "sum(rate(c[1m])) + sum(rate(c[1m]))",
    "abs(delta(g[1m])) or rate(c[1m])",
    "clamp_max(rate(c[1m]), 1)",
    'label_replace(rate(c[1m]), "x", "$1", "job", "(.*)")',
    "rate(c[1m] @ 2000)",
    "rate(c[1m:15s])",
    "max_over_time(rate(c[1m])[2m:30s])",
    "quantile_over_time(scalar(count(c)) / 4, g[2m])",
    'rate({__name__=~"c|d"}[1m])',
    'rate({__name__=~"c|e"}[1m])',
    'sum(rate({__name__=~"c|d"}[1m]))',
    # Aggregations of swept functions, swept themselves (promql.sweep_aggregate).
    "stddev(rate(c[1m]))",
    "stdvar by (job) (increase(c[2m]))",
    "group by (job) (rate(c[1m]))",
    "min by (job) (irate(c[1m]))",
    "count without (job) (rate(c[1m]))",
    "avg by (job) (resets(c[5m]))",
    "sum by (job) (last_over_time(c[1m]))",
    "topk(1, sum by (instance) (rate(c[1m])))",
    "bottomk(2, max by (instance, job) (rate(c[1m])))",
    "sum by (job) (rate(c[1m])) / ignoring(job) group_left sum(rate(c[1m]))",
    "sum(rate(c[1m])) > bool 0.2",
    # histogram_quantile of swept functions and aggregations, swept itself (promql.sweep_histogram).
    "histogram_quantile(0, sum by (le) (rate(h_bucket[1m])))",
    "histogram_quantile(1, sum by (le, job) (rate(h_bucket[1m])))",
    "histogram_quantile(-0.5, rate(h_bucket[1m]))",
    "histogram_quantile(1.5, rate(h_bucket[1m]))",
    "histogram_quantile(NaN, sum by (le) (rate(h_bucket[1m])))",
    "histogram_quantile(0.75, sum by (le, instance) (increase(h_bucket[2m])))",
    "histogram_quantile(0.3, sum without (instance) (rate(h_bucket[1m])))",
    'histogram_quantile(0.5, rate(h_bucket{job="c"}[1m]))',
    'histogram_quantile(0.99, max by (le, job) (rate(h_bucket{job!="a"}[5m])))',
    "histogram_quantile(0.9, rate(h_bucket[5m]))",
    'topk(1, histogram_quantile(0.9, sum by (le, instance) (rate(h_bucket{job="b"}[1m]))))',
    "sum(histogram_quantile(0.9, sum by (le, job) (rate(h_bucket[1m]))))",
    "histogram_quantile(0.9, sum by (le, job) (rate(h_bucket[1m]))) > 0.5",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m]))) / sum by (le) (rate(h_bucket[1m]))",
    'histogram_quantile(0.5, last_over_time({__name__=~"h_bucket|h2_bucket"}[1m]))',
    'histogram_quantile(0.5, last_over_time({__name__=~"h2_bucket|h3_bucket"}[1m]))',
    'histogram_quantile(0.5, sum by (__name__, le) (last_over_time({__name__=~"h2_bucket|h3_bucket"}[1m])))',
    *TRENDS,
    "holt_winters(g[5m], 1.5, 0.5)",
    "holt_winters(g[5m], 0.5, 1)",
    "predict_linear(g[5m], scalar(count(c)))",
    'predict_linear({__name__=~"c|d"}[1m], 1)',
]
AGGREGATED = [
    "sum by (i) (rate(m[1m]))",
    "avg(rate(m[1m]))",
    "max by (i) (delta(m[1m]))",
    "stddev by (i) (rate(m[30s]))",
    "topk(1, sum by (n) (increase(m[1m])))",
]
WINDOWS = [(900.0, 3100.0, 15.0), (1000.5, 3000.0, 7.3), (1990.0, 2100.0, 1.0), (1000.0, 3000.0, 400.0)]


@pytest.fixture(scope="module")
def store() -> SeriesStore:
    return _store()


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_a_swept_range_is_each_steps_instant_query(expr: str, store: SeriesStore) -> None:
    for start, end, step in WINDOWS:
        expected = _per_step(expr, store, start, end, step)
        assert _range(expr, store, start, end, step) == expected, (start, end, step)


def test_the_table_meets_what_it_is_for(store: SeriesStore) -> None:
    """The data holds what the equality above must survive: an error when two series collide at
    a step, none when they never meet, and series with points in part of the range only."""
    assert isinstance(_per_step('rate({__name__=~"c|d"}[1m])', store, *WINDOWS[0]), str)
    assert isinstance(_per_step('rate({__name__=~"c|e"}[1m])', store, *WINDOWS[0]), dict)
    table = _per_step("rate(c[1m])", store, *WINDOWS[0])
    assert isinstance(table, dict)
    assert len(table) == 3 and len({len(points) for points in table.values()}) == 3
    # Histograms named alike once their names go: h2 meets h_bucket, h3 never does.
    assert isinstance(
        _per_step(
            'histogram_quantile(0.5, last_over_time({__name__=~"h_bucket|h2_bucket"}[1m]))',
            store,
            *WINDOWS[0],
        ),
        str,
    )
    assert isinstance(
        _per_step(
            'histogram_quantile(0.5, last_over_time({__name__=~"h2_bucket|h3_bucket"}[1m]))',
            store,
            *WINDOWS[0],
        ),
        dict,
    )


@pytest.mark.parametrize(
    ("expr", "swept"),
    [
        ("rate(c[1m])", ["rate(c[1m])"]),
        ("sum(rate(c[1m])) / sum(rate(c[1m]))", ["rate(c[1m])"]),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))", ["rate(h_bucket[1m])"]),
        ("avg_over_time(g[1m]) - min_over_time(g[1m])", ["avg_over_time(g[1m])", "min_over_time(g[1m])"]),
        (
            "predict_linear(g[5m], 60) + holt_winters(g[5m], 0.5, 0.5)",
            ["predict_linear(g[5m], 60)", "holt_winters(g[5m], 0.5, 0.5)"],
        ),
        ("absent_over_time(c[1m])", ["absent_over_time(c[1m])"]),
        ("holt_winters(g[5m], 0.5, 1)", []),
        ("predict_linear(g[5m], time())", []),
        ("rate(c[1m] @ 2000)", []),
        ("max_over_time(rate(c[1m])[2m:30s])", []),
        ("quantile_over_time(scalar(count(c)), g[1m])", []),
        ("c", []),
    ],
)
def test_the_range_functions_a_sweep_computes(expr: str, swept: list[str]) -> None:
    # cast, not isinstance: under mypyc an abstract base may not answer isinstance from here.
    root = cast(VectorNode, compile_expr(expr).root)
    assert sorted(leaf.key or "" for leaf in leaves(root)) == sorted(_leaf_key(text) for text in swept)


HQ = "histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))"


@pytest.mark.parametrize(
    ("expr", "aggregates", "histograms", "per_step"),
    [
        ("sum by (job) (rate(c[1m]))", ["sum by (job) (rate(c[1m]))"], [], ["sum by (job) (rate(c[1m]))"]),
        (
            "rate(c[1m]) / ignoring(instance) group_left sum by (job) (rate(c[1m]))",
            ["sum by (job) (rate(c[1m]))"],
            [],
            ["rate(c[1m])", "sum by (job) (rate(c[1m]))"],
        ),
        (HQ, ["sum by (le) (rate(h_bucket[1m]))"], [HQ], [HQ]),
        (
            f"{HQ} / sum by (le) (rate(h_bucket[1m]))",
            ["sum by (le) (rate(h_bucket[1m]))"],
            [HQ],
            [HQ, "sum by (le) (rate(h_bucket[1m]))"],
        ),
        (
            "histogram_quantile(0.5, rate(h_bucket[2m]))",
            [],
            ["histogram_quantile(0.5, rate(h_bucket[2m]))"],
            ["histogram_quantile(0.5, rate(h_bucket[2m]))"],
        ),
        (
            "sum(histogram_quantile(NaN, max without (le) (rate(h_bucket[2m]))))",
            ["max without (le) (rate(h_bucket[2m]))"],
            ["histogram_quantile(NaN, max without (le) (rate(h_bucket[2m])))"],
            ["histogram_quantile(NaN, max without (le) (rate(h_bucket[2m])))"],
        ),
        ("histogram_quantile(scalar(g), rate(h_bucket[2m]))", [], [], ["rate(h_bucket[2m])"]),
        ("histogram_quantile(-(0.5), rate(h_bucket[2m]))", [], [], ["rate(h_bucket[2m])"]),
        ("histogram_quantile(0.9, topk(3, rate(h_bucket[1m])))", [], [], ["rate(h_bucket[1m])"]),
        ("histogram_quantile(0.9, rate(h_bucket[1m:15s]))", [], [], []),
        ("topk(1, rate(c[1m]))", [], [], ["rate(c[1m])"]),
        ("quantile(0.5, rate(c[1m]))", [], [], ["rate(c[1m])"]),
        (
            "sum(sum by (job) (rate(c[1m])))",
            ["sum by (job) (rate(c[1m]))"],
            [],
            ["sum by (job) (rate(c[1m]))"],
        ),
        ("sum(rate(c[1m:15s]))", [], [], []),
    ],
)
def test_the_aggregations_a_sweep_computes(
    expr: str, aggregates: list[str], histograms: list[str], per_step: list[str]
) -> None:
    found = plan(cast(VectorNode, compile_expr(expr).root))
    assert sorted(node.key or "" for node in found.aggregates) == sorted(map(_leaf_key, aggregates))
    assert sorted(node.key or "" for node in found.histograms) == sorted(map(_leaf_key, histograms))
    assert sorted(found.per_step) == sorted(map(_leaf_key, per_step))


def _leaf_key(text: str) -> str:
    key = cast(VectorNode, compile_expr(text).root).key
    assert key is not None
    return key


@st.composite
def _series(draw: st.DrawFn) -> list[tuple[float, float]]:
    """One series' samples: random gaps, counter-like steps, resets, NaN and stale markers."""
    t = draw(st.integers(0, 600)) + draw(st.sampled_from([0.0, 0.25, 0.001]))
    value = float(draw(st.integers(0, 50)))
    samples = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(["up"] * 6 + ["reset", "same", "nan", "stale"]))
        if kind == "up":
            value += draw(st.integers(1, 20))
        elif kind == "reset":
            value = float(draw(st.integers(0, 3)))
        sample = math.nan if kind == "nan" else STALE_NAN if kind == "stale" else value
        samples.append((round(t, 3), sample))
        t += draw(st.sampled_from([1.0, 5.0, 15.0, 15.0, 15.0, 29.5, 90.0]))
    return samples


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(_series(), min_size=1, max_size=4),
    expr=st.sampled_from([*EXPRESSIONS[:26], *AGGREGATED, *TRENDS, "rate(m[20s] offset 7s)"]),
    start=st.integers(-100, 900),
    length=st.integers(0, 600),
    step=st.sampled_from([2.0, 4.5, 15.0, 60.0, 301.0]),
)
def test_random_series_sweep_as_they_step(
    data: list[list[tuple[float, float]]], expr: str, start: int, length: int, step: float
) -> None:
    store = SeriesStore(retention=math.inf)
    for i, samples in enumerate(data):
        for t, value in samples:
            store.append({"__name__": "m", "i": str(i % 2), "n": str(i)}, t, value)
    expr = expr.replace("c[", "m[").replace("g[", "m[")
    args = (store, float(start), float(start + length), step)
    assert _range(expr, *args) == _per_step(expr, *args)
