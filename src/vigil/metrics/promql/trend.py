"""Trends over a range: ``deriv``, ``predict_linear`` and ``holt_winters``. Ports of Prometheus
2.42's ``linearRegression`` (Kahan-summed least squares), ``funcDeriv``, ``funcPredictLinear`` and
``funcHoltWinters``, with the same float operations in the same order.
"""

from __future__ import annotations

import math

from vigil.metrics.promql.gofloat import NAN, div, kahan_sum_inc
from vigil.metrics.promql.model import (
    EvalContext,
    PromQLError,
    ScalarNode,
    Vec,
    VectorNode,
    ensure_unique,
    node_key,
    param_key,
)
from vigil.metrics.promql.selectors import MatrixSelector, Window, nameless


def linear_regression(w: Window, intercept_ms: int) -> tuple[float, float]:
    """(slope per second, value at ``intercept_ms``) of the least-squares line through ``w``."""
    values = w.values
    n, sum_x, c_x, sum_y, c_y, sum_xy, c_xy, sum_x2, c_x2 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    init_y = values[0]
    const_y = True
    for i, (t, v) in enumerate(zip(w.timestamps, values, strict=True)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = (round(t * 1000) - intercept_ms) / 1e3
        sum_x, c_x = kahan_sum_inc(x, sum_x, c_x)
        sum_y, c_y = kahan_sum_inc(v, sum_y, c_y)
        sum_xy, c_xy = kahan_sum_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = kahan_sum_inc(x * x, sum_x2, c_x2)
    if const_y:
        return (NAN, NAN) if math.isinf(init_y) else (0.0, init_y)
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = div(cov_xy, var_x)
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def deriv(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    if len(w.values) < 2:
        return None
    # Relative to the first sample: small x values keep the sums accurate.
    return linear_regression(w, round(w.timestamps[0] * 1000))[0]


def _holt_winters(values: list[float] | tuple[float, ...], sf: float, tf: float) -> float:
    s0, s1 = 0.0, values[0]
    b = values[1] - values[0]
    for i in range(1, len(values)):
        x = sf * values[i]
        if i > 1:  # calcTrendValue: the first step keeps the initial trend
            b = tf * (s1 - s0) + (1 - tf) * b
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


def trend(w: Window, at_ms: int, first: float, second: float, *, smoothed: bool) -> float | None:
    """``predict_linear``'s (``first`` seconds after ``at_ms``) or, ``smoothed``, ``holt_winters``'
    value over one window; None for a window of fewer than two samples."""
    if len(w.values) < 2:
        return None
    if smoothed:
        return _holt_winters(list(w.values), first, second)
    slope, intercept = linear_regression(w, at_ms)
    return slope * first + intercept


def valid_factors(sf: float, tf: float) -> bool:
    return 0 < sf < 1 and 0 < tf < 1


class TrendCall(VectorNode):
    """``predict_linear(v[r], t)`` (``second`` unset) or ``holt_winters(v[r], sf, tf)``."""

    __slots__ = ("first", "key", "second", "selector")

    def __init__(self, selector: MatrixSelector, first: ScalarNode, second: ScalarNode | None) -> None:
        self.selector = selector
        self.first = first
        self.second = second
        shown, also = param_key(first), param_key(second)
        name = "predict_linear" if second is None else "holt_winters"
        self.key = node_key(
            None if shown is None or also is None else f"{name}({shown},{also}){selector.key}"
        )

    def compute(self, ctx: EvalContext) -> Vec:
        first = self.first.scalar(ctx)
        second = self.second.scalar(ctx) if self.second is not None else NAN
        smoothed = self.second is not None
        out: Vec = []
        for w in self.selector.windows(ctx, named=False):
            # Prometheus checks the factors once it has a series to smooth.
            if smoothed and not valid_factors(first, second):
                if not 0 < first < 1:
                    raise PromQLError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {first:f}")
                raise PromQLError(f"invalid trend factor. Expected: 0 < tf < 1, got: {second:f}")
            value = trend(w, ctx.at_ms, first, second, smoothed=smoothed)
            if value is not None:
                out.append((nameless(w), value))
        return ensure_unique(out)
