"""PromQL evaluated in-process over a ``SeriesSource``, with Prometheus 2.42's semantics.

    compile_expr(text) -> CompiledExpr       parse and check once; PromQLError if unsupported
    evaluate(expr, at, source) -> Vector | float

Supported: instant and range selectors with offset and =, !=, =~, !~ matchers (regexes with Go's
meaning, see ``regex``); rate, irate, increase, delta, idelta, changes, resets, avg/min/max/sum/
count/quantile/stddev/stdvar/last/present/absent_over_time, histogram_quantile, absent, abs, ceil,
floor, round, exp, sqrt, ln, log2, log10, sgn, clamp, clamp_min, clamp_max, scalar, vector, time,
sort, sort_desc; sum, avg, min, max, count, group, stddev, stdvar, quantile, topk, bottomk with
by/without; + - * / % ^ atan2, comparisons with and without bool, and/or/unless, on/ignoring,
group_left/group_right. Refused with a PromQLError naming it: subqueries, the @ modifier, every
other function or aggregation (e.g. predict_linear, label_replace, count_values), and expressions
of more than 256 operators (the parser would crash on a few thousand).

Checked against a real Prometheus by ``tests/metrics/test_promql_oracle.py``.
"""

from vigil.metrics.promql.evaluate import DEFAULT_LOOKBACK, CompiledExpr, compile_expr, evaluate
from vigil.metrics.promql.model import PromQLError, Sample, Vector

__all__ = ["DEFAULT_LOOKBACK", "CompiledExpr", "PromQLError", "Sample", "Vector", "compile_expr", "evaluate"]
