"""What issue 14 added to the evaluator: subqueries, ``@``, the label, trend and date functions and
Prometheus' result order; in Prometheus' own test-file format (``bench/promql_testfile``), run by
``bench/promql_conformance``'s runner, plus the points a test file cannot express. Every expected
value follows Prometheus 2.42's algorithm (the same cases pass against it: the oracle covers each
function against a real Prometheus)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bench.promql_conformance import run_file
from bench.promql_testfile import Eval, Load, TestFileError, parse

from vigil.metrics.promql import compile_expr, evaluate
from vigil.metrics.promql.gofloat import format_float
from vigil.metrics.ranges import RangeSeries, evaluate_range
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import SeriesStore

CASES = """
load 1m
  gauge{job="a"} 0+1x10
  gauge{job="b"} 10-1x10
  mixed{x="1"} 1 NaN 3
  mixed{x="2"} 5 5 5
  path{path="/api/users", host="h1"} 1
  path{path="/health", host="h2"} 2

# subqueries: steps at multiples of the step, the window closed at both ends
eval instant at 10m sum_over_time(gauge{job="a"}[5m:1m])
  {job="a"} 45

eval instant at 10m count_over_time(gauge{job="a"}[5m:2m])
  {job="a"} 3

eval instant at 10m max_over_time(rate(gauge{job="a"}[2m])[4m:1m] offset 1m)
  {job="a"} 0.016666666666666666

eval instant at 7m30s count_over_time(gauge{job="a"}[3m:])
  {job="a"} 3

# @ pins a selector; start() and end() are the evaluation time of an instant query
eval instant at 10m gauge @ 120
  gauge{job="a"} 2
  gauge{job="b"} 8

eval instant at 10m sum_over_time(gauge{job="a"}[2m:1m] @ 180)
  {job="a"} 6

# labels
eval instant at 0m label_replace(path, "area", "$1-${2}x", "path", "/(\\\\w+)/?(.*)")
  path{path="/api/users", host="h1", area="api-usersx"} 1
  path{path="/health", host="h2", area="health-x"} 2

eval instant at 0m label_replace(path, "host", "$1x", "path", "/(.*)")
  path{path="/api/users"} 1
  path{path="/health"} 2

eval instant at 0m label_join(path, "both", "|", "host", "nope", "path")
  path{path="/api/users", host="h1", both="h1||/api/users"} 1
  path{path="/health", host="h2", both="h2||/health"} 2

eval_fail instant at 0m label_replace(gauge, "job", "x", "job", ".*")

eval instant at 2m count_values("value", mixed)
  {value="3"} 1
  {value="5"} 1

eval instant at 1m count_values by (x) ("v", mixed)
  {x="1", v="NaN"} 1
  {x="2", v="5"} 1

# trends
eval instant at 10m deriv(gauge[5m])
  {job="a"} 0.016666666666666666
  {job="b"} -0.016666666666666666

eval instant at 10m predict_linear(gauge[5m], 600)
  {job="a"} 20
  {job="b"} -10

eval instant at 10m holt_winters(gauge[5m], 0.5, 0.5)
  {job="a"} 10
  {job="b"} 0

eval instant at 10m double_exponential_smoothing(gauge[5m], 0.5, 0.5)
  {job="a"} 10
  {job="b"} 0

eval_fail instant at 10m holt_winters(gauge[5m], 1, 0.5)

# time
eval instant at 10m timestamp(gauge offset 90s)
  {job="a"} 480
  {job="b"} 480

eval instant at 10m timestamp(-gauge)
  {job="a"} 600
  {job="b"} 600

eval instant at 10m day_of_week()
  {} 4

eval instant at 10m days_in_month(vector(1709251200 - 86400))
  {} 29

eval instant at 10m hour(gauge * 3600)
  {job="a"} 10
  {job="b"} 0

# order
eval_ordered instant at 1m sort(mixed)
  mixed{x="2"} 5
  mixed{x="1"} NaN

eval_ordered instant at 1m sort_desc(mixed)
  mixed{x="2"} 5
  mixed{x="1"} NaN

eval_ordered instant at 3m topk(2, gauge)
  gauge{job="b"} 7
  gauge{job="a"} 3

eval_ordered instant at 3m bottomk(2, gauge)
  gauge{job="a"} 3
  gauge{job="b"} 7
"""


def test_the_additions_pass_as_a_prometheus_test_file(tmp_path: Path) -> None:
    path = tmp_path / "additions.test"
    path.write_text(CASES)
    tally = run_file(path)
    assert tally.failures == []
    assert (tally.passed, tally.refused) == (len([c for c in parse(CASES) if isinstance(c, Eval)]), 0)


def test_a_wrong_expectation_fails_and_an_unsupported_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wrong.test"
    path.write_text(
        'load 1m\n  m{a="1"} 1 2\n  m{a="2"} 5 5\n\neval instant at 1m m{a="1"}\n  m{a="1"} 3\n\n'
        'eval_ordered instant at 1m sort_desc(m)\n  m{a="1"} 2\n  m{a="2"} 5\n\n'
        "eval instant at 1m sort_by_label(m, 'x')\n  m 2\n"
    )
    tally = run_file(path)
    assert (tally.passed, tally.failed, tally.refused) == (0, 2, 1)
    assert "expected 3.0, got 2.0" in tally.failures[0]
    assert "at position 1, expected 2" in tally.failures[1]


def test_series_values_expand_as_prometheus_reads_them() -> None:
    [load] = parse('load 30s\n  a{b="c"} 1+2x2 _ _x2 stale -1-0.5x1 Inf 0x2\n')
    assert isinstance(load, Load)
    labels, values = load.series[0]
    assert labels == {"__name__": "a", "b": "c"}
    assert values[:6] == [1.0, 3.0, 5.0, None, None, None]
    assert math.isnan(values[6] or 0.0)
    assert values[7:] == [-1.0, -1.5, math.inf, 0.0, 0.0, 0.0]
    with pytest.raises(TestFileError, match="not a series value"):
        parse("load 1m\n  a 1+x\n")


def test_count_values_prints_values_as_go_does() -> None:
    assert [format_float(v) for v in (1e21, 1e-7, 0.1, -0.0, 3.0, math.inf, -math.inf)] == [
        "1000000000000000000000",
        "0.0000001",
        "0.1",
        "-0",
        "3",
        "+Inf",
        "-Inf",
    ]


def _store() -> SeriesStore:
    store = SeriesStore(retention=math.inf)
    store.extend({"__name__": "g"}, [60.0 * i for i in range(11)], [float(i) for i in range(11)])
    store.extend({"__name__": "s"}, [0.0, 60.0], [1.0, STALE_NAN])
    return store


def test_at_start_and_end_read_at_a_range_querys_window() -> None:
    store = _store()
    for expr, expected in (("g @ start()", 2.0), ("g @ end()", 9.0)):
        [series] = evaluate_range(compile_expr(expr), 120, 570, 150, store)
        assert isinstance(series, RangeSeries)
        # end() is the query's end (570 s, last sample 540 s), not its last step (570 s here too)
        assert series.points == [(120.0, expected), (270.0, expected), (420.0, expected), (570.0, expected)]
    assert evaluate(compile_expr("g @ end()"), 300, store, start=0, end=600) == evaluate(
        compile_expr("g"), 600, store
    )


def test_a_subquery_skips_steps_where_its_expression_is_empty() -> None:
    # s is stale from 60 s on: only the steps at 0 s and 30 s (within the lookback of 0 s) count.
    result = evaluate(compile_expr("count_over_time(s[5m:30s])"), 300, _store())
    assert not isinstance(result, float)
    assert [(sample.labels, sample.value) for sample in result] == [({}, 2.0)]
