"""PromQL evaluated in-process over a ``SeriesSource``, with Prometheus 2.42's semantics.

    compile_expr(text) -> CompiledExpr       parse and check once; PromQLError if unsupported
    evaluate(expr, at, source) -> Vector | float

Supported: instant and range selectors with offset and =, !=, =~, !~ matchers; rate, irate,
increase, delta, idelta, the *_over_time family, changes, resets, histogram_quantile, absent,
absent_over_time, abs, ceil, floor, round, exp, sqrt, ln, log2, log10, sgn, clamp, clamp_min,
clamp_max, scalar, vector, time, sort, sort_desc; sum, avg, min, max, count, group, stddev, stdvar,
quantile, topk, bottomk with by/without; arithmetic, comparisons (with bool), and/or/unless,
on/ignoring, group_left/group_right. Refused by name: subqueries, the @ modifier, and any other
function or aggregation (e.g. predict_linear, label_replace, count_values).
"""

from vigil.metrics.promql.evaluate import DEFAULT_LOOKBACK, CompiledExpr, compile_expr, evaluate
from vigil.metrics.promql.model import PromQLError, Sample, Vector

__all__ = ["DEFAULT_LOOKBACK", "CompiledExpr", "PromQLError", "Sample", "Vector", "compile_expr", "evaluate"]
