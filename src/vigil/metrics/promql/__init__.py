"""PromQL evaluated in-process over a ``SeriesSource``, with Prometheus 2.42's semantics.

    compile_expr(text) -> CompiledExpr       parse and check once; PromQLError if unsupported
    evaluate(expr, at, source) -> Vector | float

Supported: instant and range selectors with offset, ``@`` (a time, ``start()``, ``end()``) and =,
!=, =~, !~ matchers (regexes with Go's meaning, see ``regex``); subqueries ``expr[range:step]``;
rate, irate, increase, delta, idelta, deriv, predict_linear, holt_winters (also by its Prometheus 3
name double_exponential_smoothing), changes, resets, avg/min/max/sum/count/quantile/stddev/stdvar/
last/present/absent_over_time, histogram_quantile, absent, abs, ceil, floor, round, exp, sqrt, ln,
log2, log10, sgn, the trigonometric functions, deg, rad, pi, clamp, clamp_min, clamp_max, scalar,
vector, time, timestamp, minute, hour, day_of_week, day_of_month, day_of_year, days_in_month, month,
year, label_replace, label_join, sort, sort_desc; sum, avg, min, max, count, count_values, group,
stddev, stdvar, quantile, topk, bottomk with by/without; + - * / % ^ atan2, comparisons with and
without bool, and/or/unless, on/ignoring, group_left/group_right. Results keep Prometheus' order
where it has one (sort, sort_desc, topk, bottomk). Refused with a PromQLError naming it: functions
newer than Prometheus 2.42 (e.g. sort_by_label), the native-histogram functions, an ``@`` before
1970, and expressions of more than 256 operators (the parser would crash on a few thousand).

Checked against a real Prometheus by ``tests/metrics/test_promql_oracle.py``, and against Prometheus'
own test files by ``bench/promql_conformance.py``.
"""

from vigil.metrics.promql.evaluate import DEFAULT_LOOKBACK, CompiledExpr, compile_expr, evaluate
from vigil.metrics.promql.model import PromQLError, Sample, Vector

__all__ = ["DEFAULT_LOOKBACK", "CompiledExpr", "PromQLError", "Sample", "Vector", "compile_expr", "evaluate"]
