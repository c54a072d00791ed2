"""Functions over range vectors: ``irate``, ``idelta``, ``*_over_time``, ``changes`` and ``resets``
(``rate``, ``increase`` and ``delta`` are in ``extrapolate``).

Each is a port of its Prometheus 2.42 counterpart in ``promql/functions.go`` with the same float
operations in the same order, so that results agree to the last bits wherever Go and Python round
alike. Timestamps are turned back into integer milliseconds before any duration is computed, since
Prometheus subtracts int64 milliseconds and only then divides by 1000.

Where the source vouches for a window (no NaN, no drop: see ``SeriesData``) the per-sample loops
that only look for those are skipped, and a NaN- and Inf-free window is summed by ``math.fsum``
(correctly rounded) instead of Prometheus' Kahan loop, which agrees with it to within an ulp or two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import islice
from operator import gt

from vigil.metrics.promql.gofloat import NAN, duration_seconds, kahan_sum_inc, quantile
from vigil.metrics.promql.model import (
    EvalContext,
    ScalarNode,
    Vec,
    VectorNode,
    ensure_unique,
    node_key,
    param_key,
)
from vigil.metrics.promql.selectors import MatrixSelector, Window, nameless
from vigil.metrics.promql.trend import deriv

Floats = Sequence[float]
# (window, range start ms, range end ms, range in seconds, scalar parameter) -> value or None for
# no sample; the window holds at least one sample, stale markers removed.
RangeFunction = Callable[[Window, int, int, float, float], float | None]


def _finite_total(values: Floats) -> float | None:
    """The correctly rounded sum when no value is NaN or infinite (checked in C), else None."""
    total = sum(values)
    return math.fsum(values) if total - total == 0.0 else None


def _instant(ts: Floats, values: Floats, per_second: bool) -> float | None:
    """``instantValue``: from the last two samples only."""
    if len(values) < 2:
        return None
    last, previous = values[-1], values[-2]
    result = last if per_second and last < previous else last - previous
    interval = round(ts[-1] * 1000) - round(ts[-2] * 1000)
    if interval == 0:
        return None
    if per_second:
        result /= interval / 1000
    return result


def _irate(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return _instant(w.timestamps, w.values, True)


def _idelta(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return _instant(w.timestamps, w.values, False)


def _avg_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    vs = w.values
    total = _finite_total(vs)
    if total is not None:
        return total / len(vs)
    mean, count, c = 0.0, 0.0, 0.0
    for v in vs:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue  # Inf plus Inf of the same sign: the mean stays what it is
            if not math.isinf(v) and not math.isnan(v):
                continue  # a finite value cannot move an infinite mean (Inf - Inf would be NaN)
        mean, c = kahan_sum_inc(v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def _sum_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    vs = w.values
    exact = _finite_total(vs)
    if exact is not None:
        return exact
    total, c = 0.0, 0.0
    for v in vs:
        total, c = kahan_sum_inc(v, total, c)
    return total if math.isinf(total) else total + c


def _max_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    values = w.values
    if w.nan_free:
        return max(values)  # the first of equal maxima, as Prometheus' strict comparison keeps
    best = values[0]
    for v in values:
        if v > best or math.isnan(best):  # a NaN is replaced by any later value
            best = v
    return best


def _min_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    values = w.values
    if w.nan_free:
        return min(values)
    best = values[0]
    for v in values:
        if v < best or math.isnan(best):
            best = v
    return best


def _count_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return float(len(w.values))


def _quantile_over_time(w: Window, start: int, end: int, range_s: float, q: float) -> float | None:
    return quantile(q, w.values)


def _variance(values: Sequence[float]) -> float:
    count, mean, c_mean, aux, c_aux = 0.0, 0.0, 0.0, 0.0, 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_sum_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def _stddev_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return math.sqrt(_variance(w.values))


def _stdvar_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return _variance(w.values)


def _last_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return w.values[-1]


def _present_over_time(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    return 1.0


def _changes(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    values = w.values
    changes, prev = 0, values[0]
    for cur in values:
        if cur != prev and not (math.isnan(cur) and math.isnan(prev)):  # NaN to NaN is no change
            changes += 1
        prev = cur
    return float(changes)


def _resets(w: Window, start: int, end: int, range_s: float, _: float) -> float | None:
    values = w.values
    if w.monotonic:
        return 0.0
    return float(sum(map(gt, values, islice(values, 1, None))))


RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "irate": _irate,
    "idelta": _idelta,
    "avg_over_time": _avg_over_time,
    "sum_over_time": _sum_over_time,
    "max_over_time": _max_over_time,
    "min_over_time": _min_over_time,
    "count_over_time": _count_over_time,
    "quantile_over_time": _quantile_over_time,
    "stddev_over_time": _stddev_over_time,
    "stdvar_over_time": _stdvar_over_time,
    "last_over_time": _last_over_time,
    "present_over_time": _present_over_time,
    "changes": _changes,
    "resets": _resets,
    "deriv": deriv,
}


class RangeCall(VectorNode):
    """A range function applied to every series of a range selector."""

    __slots__ = ("check", "fn", "keep_name", "key", "param", "range_s", "selector")

    def __init__(
        self,
        fn: RangeFunction,
        selector: MatrixSelector,
        param: ScalarNode | None,
        *,
        keep_name: bool,
        check: bool,
    ) -> None:
        self.fn = fn
        self.selector = selector
        self.param = param
        self.range_s = duration_seconds(selector.range_ms)
        # last_over_time acts like an offset and keeps __name__; every other one drops it.
        self.keep_name = keep_name
        self.check = check
        shown = param_key(param)
        self.key = node_key(
            None if shown is None else f"{fn.__name__}({shown}){keep_name:d}{check:d}{selector.key}"
        )

    def compute(self, ctx: EvalContext) -> Vec:
        start, end = self.selector.bounds(ctx)
        param = self.param.scalar(ctx) if self.param is not None else NAN
        fn, range_s, keep_name = self.fn, self.range_s, self.keep_name
        out: Vec = []
        for w in self.selector.windows(ctx, named=keep_name):
            value = fn(w, start, end, range_s, param)
            if value is not None:
                out.append((w.labels if keep_name else nameless(w), value))
        return ensure_unique(out) if self.check else out


class AbsentOverTime(VectorNode):
    """``absent_over_time``: 1, labelled from the selector's equality matchers, if no series has a
    sample in the window."""

    __slots__ = ("key", "labels", "selector")

    def __init__(self, selector: MatrixSelector, labels: dict[str, str]) -> None:
        self.selector = selector
        self.labels = labels  # from the selector's matchers: its key says them
        self.key = node_key(f"absent_over_time{selector.key}")

    def compute(self, ctx: EvalContext) -> Vec:
        for _ in self.selector.windows(ctx, named=False):
            return []
        return [(dict(self.labels), 1.0)]
