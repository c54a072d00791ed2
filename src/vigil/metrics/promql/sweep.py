"""Range functions swept across the steps of a range query: ``rate(x[5m])`` at 5,761 steps reads
each series' samples once, its window sliding forward over them (two indices that only move
forward), instead of every step selecting every series and cutting its window again.

A sweep gives, series by series, what the function gives at each step, to the last bit: ``rate``,
``increase`` and ``delta`` through ``extrapolation`` with each window's resets added back in their
order, as ``ExtrapolatedRate`` adds them; the other range functions called on each window as the
per-step path calls them. An aggregation of a swept function is swept too (``sweep_aggregate``),
and so is a ``histogram_quantile`` of either (``sweep_histogram``). Whatever an expression holds
above them (operators, other functions) is still evaluated step by step, reading the swept results
as the rule cycle reads shared sub-expressions (``EvalContext.shared``): the same code over the
same vectors, hence the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigil.metrics.promql.aggregate import Aggregate
from vigil.metrics.promql.binary import Negate, SetOperation, VectorScalar, VectorVector
from vigil.metrics.promql.extrapolate import ExtrapolatedRate, extrapolation
from vigil.metrics.promql.functions import Clamp, MathCall, Round
from vigil.metrics.promql.gofloat import NAN
from vigil.metrics.promql.histogram import HistogramQuantile
from vigil.metrics.promql.labelfuncs import LabelJoin, LabelReplace, Sort
from vigil.metrics.promql.model import AT_NONE, Constant, Labels, Vec, VectorNode, label_key
from vigil.metrics.promql.rangefuncs import AbsentOverTime, RangeCall
from vigil.metrics.promql.selectors import MatrixSelector, Window, nameless, without_stale
from vigil.metrics.promql.trend import TrendCall, trend, valid_factors
from vigil.metrics.series import SeriesData, SeriesSource

Swept = ExtrapolatedRate | RangeCall | TrendCall | AbsentOverTime
# Nodes that evaluate their one vector argument at their own time, as the sweep's results are.
_ONE_ARGUMENT = (Aggregate, HistogramQuantile, MathCall, Clamp, Round, Negate, Sort, LabelReplace, LabelJoin)


class Column:
    """One series' results over a slice of steps: the ``steps`` (indexes into the slice's times)
    at which it has a value, and those values."""

    __slots__ = ("labels", "steps", "values")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.steps: list[int] = []
        self.values: list[float] = []


class Stepped:
    """A series computed from swept columns over a slice's steps (an aggregation's group, a
    histogram's quantile): its value at each step, and at each step the index of the column that
    places it in the step's vector, as the per-step path would list it (-1: absent there)."""

    __slots__ = ("labels", "places", "values")

    def __init__(self, labels: Labels, values: list[float], places: list[int]) -> None:
        self.labels = labels
        self.values = values
        self.places = places


def stepped(columns: Sequence[Column], count: int) -> list[Stepped]:
    """The columns as ``Stepped`` series over ``count`` steps, each placed by itself."""
    out: list[Stepped] = []
    for i, column in enumerate(columns):
        values = [0.0] * count
        places = [-1] * count
        steps, column_values = column.steps, column.values
        for j in range(len(steps)):
            k = steps[j]
            values[k] = column_values[j]
            places[k] = i
        out.append(Stepped(column.labels, values, places))
    return out


def in_step_order(
    series: Sequence[Stepped], owner: Sequence[int], columns: Sequence[Column], count: int
) -> list[Vec]:
    """``series`` as each of ``count`` steps' vector: each where the column placing it there
    comes. ``owner`` gives, for each column, the series it may place (-1: none)."""
    vecs: list[Vec] = [[] for _ in range(count)]
    for i, column in enumerate(columns):
        s = owner[i]
        if s < 0:
            continue
        places, values, labels = series[s].places, series[s].values, series[s].labels
        steps = column.steps
        for j in range(len(steps)):
            k = steps[j]
            if places[k] == i:
                vecs[k].append((labels, values[k]))
    return vecs


def swept(node: VectorNode) -> Swept | None:
    """``node`` as a range function a sweep computes: over a plain range selector read at the
    evaluation time (no ``@``, no subquery), with a constant parameter if it takes one."""
    if type(node) is ExtrapolatedRate:
        selector = node.selector
    elif type(node) is RangeCall:
        if node.param is not None and type(node.param) is not Constant:
            return None
        selector = node.selector
    elif type(node) is TrendCall:
        if _factors(node) is None:
            return None
        selector = node.selector
    elif type(node) is AbsentOverTime:
        selector = node.selector
    else:
        return None
    if type(selector) is not MatrixSelector or selector.at_kind != AT_NONE:
        return None
    return node


def leaves(root: VectorNode) -> list[Swept]:
    """The range functions a sweep computes in ``root``'s tree, each once. Only nodes that evaluate
    their arguments at their own time are looked into (a subquery evaluates at other times)."""
    found: dict[str, Swept] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        leaf = swept(node)
        if leaf is not None:
            if leaf.key is not None:
                found.setdefault(leaf.key, leaf)
        else:
            pending += arguments(node)
    return list(found.values())


def arguments(node: VectorNode) -> list[VectorNode]:
    """The vector arguments of ``node`` that are evaluated at its own time (none for a subquery)."""
    if isinstance(node, _ONE_ARGUMENT):
        return [node.arg]
    if isinstance(node, VectorScalar):
        return [node.vector_node]
    if isinstance(node, VectorVector | SetOperation):
        return [node.lhs, node.rhs]
    return []


def sweep(node: Swept, source: SeriesSource, ats: Sequence[int]) -> list[Column] | None:
    """``node``'s results at each time of ``ats`` (ms, ascending), one column per series in the
    source's order. None when two series' results could carry the same labels: the per-step path
    then decides, step by step, whether they meet (an error) or not."""
    selector = node.selector
    range_ms = selector.range_ms
    ends = [at - selector.offset_ms for at in ats]
    low = math.nextafter((ends[0] - range_ms) / 1000, -math.inf)  # select() reads (low, high]
    columns: list[Column] = []
    named = type(node) is RangeCall and node.keep_name
    found = source.select(selector.matchers, low, ends[-1] / 1000, named=named)
    windows = [w for w in map(without_stale, found) if w is not None]
    if isinstance(node, AbsentOverTime):
        absent = _absent(node, windows, ends, range_ms)
        return [absent] if absent.steps else []
    for window in windows:
        if isinstance(node, ExtrapolatedRate):
            column = _rates(node, window, ends, range_ms)
        elif isinstance(node, TrendCall):
            column = _trends(node, window, ats, ends, range_ms)
        else:
            column = _calls(node, window, ends, range_ms)
        if column.steps:
            columns.append(column)
    check = node.check if isinstance(node, ExtrapolatedRate | RangeCall) else True
    if check and len({label_key(c.labels) for c in columns}) != len(columns):
        return None
    return columns


def by_step(columns: Sequence[Column], count: int) -> list[Vec]:
    """The columns as each of ``count`` steps' vector, series in the columns' order."""
    vecs: list[Vec] = [[] for _ in range(count)]
    for column in columns:
        labels, steps, values = column.labels, column.steps, column.values
        for j in range(len(steps)):  # indexes: compiled, a zip() costs as much as the rest
            vecs[steps[j]].append((labels, values[j]))
    return vecs


def _windows(ts: Sequence[float], ends: list[int], range_ms: int) -> tuple[list[int], list[int]]:
    """For each end (ms), the window ``[end - range, end]`` over ``ts``, closed at both ends as a
    range selector cuts it: its first index and one past its last."""
    lows: list[int] = []
    highs: list[int] = []
    times: list[float] = list(ts)  # compiled, a list's items are read without a call
    n = len(times)
    lo = hi = 0
    for end in ends:
        start_s = (end - range_ms) / 1000
        end_s = end / 1000
        while lo < n and times[lo] < start_s:
            lo += 1
        hi = max(hi, lo)
        while hi < n and times[hi] <= end_s:
            hi += 1
        lows.append(lo)
        highs.append(hi)
    return lows, highs


def _rates(node: ExtrapolatedRate, w: Window, ends: list[int], range_ms: int) -> Column:
    ts: list[float] = list(w.timestamps)
    vs: list[float] = list(w.values)
    counter, per_second, range_s = node.counter, node.per_second, node.range_s
    # Where a counter dropped: each window adds back the value before each drop inside it.
    drops = [j for j in range(1, len(vs)) if vs[j] < vs[j - 1]] if counter and not w.monotonic else []
    lows, highs = _windows(ts, ends, range_ms)
    column = Column(nameless(w))
    steps, values = column.steps, column.values
    d = 0
    for k in range(len(ends)):
        lo, hi = lows[k], highs[k]
        n = hi - lo
        if n < 2:
            continue
        first = vs[lo]
        result = vs[hi - 1] - first
        if drops:
            while d < len(drops) and drops[d] <= lo:
                d += 1
            j = d
            while j < len(drops) and drops[j] < hi:
                result += vs[drops[j] - 1]
                j += 1
        end = ends[k]
        t_first, t_last = round(ts[lo] * 1000), round(ts[hi - 1] * 1000)
        factor = extrapolation(result, first, n, t_first, t_last, end - range_ms, end, counter)
        if per_second:
            factor /= range_s
        steps.append(k)
        values.append(result * factor)
    return column


def _calls(node: RangeCall, w: Window, ends: list[int], range_ms: int) -> Column:
    fn, range_s = node.fn, node.range_s
    param = node.param.value if isinstance(node.param, Constant) else NAN
    ts, vs = w.timestamps, w.values
    lows, highs = _windows(ts, ends, range_ms)
    column = Column(w.labels if node.keep_name else nameless(w))
    steps, values = column.steps, column.values
    for k in range(len(ends)):
        lo, hi = lows[k], highs[k]
        if lo == hi:
            continue
        window = SeriesData(w.labels, ts[lo:hi], vs[lo:hi], w.nameless, w.nan_free, w.monotonic)
        end = ends[k]
        value = fn(window, end - range_ms, end, range_s, param)
        if value is not None:
            steps.append(k)
            values.append(value)
    return column


def _factors(node: TrendCall) -> tuple[float, float] | None:
    """A trend's literal parameters (the second NaN for ``predict_linear``); None when one is
    computed, or when ``holt_winters``' factors are out of range (the per-step path refuses them
    once a step has a series)."""
    first, second = node.first, node.second
    if type(first) is not Constant or (second is not None and type(second) is not Constant):
        return None
    factors = (first.value, second.value if isinstance(second, Constant) else NAN)
    return None if second is not None and not valid_factors(*factors) else factors


def _trends(node: TrendCall, w: Window, ats: Sequence[int], ends: list[int], range_ms: int) -> Column:
    first, second = _factors(node) or (NAN, NAN)
    smoothed = node.second is not None
    ts, vs = w.timestamps, w.values
    lows, highs = _windows(ts, ends, range_ms)
    column = Column(nameless(w))
    for k in range(len(ends)):
        lo, hi = lows[k], highs[k]
        if hi - lo < 2:
            continue
        window = SeriesData(w.labels, ts[lo:hi], vs[lo:hi], w.nameless, w.nan_free, w.monotonic)
        value = trend(window, ats[k], first, second, smoothed=smoothed)  # predict_linear reads from the step
        if value is not None:
            column.steps.append(k)
            column.values.append(value)
    return column


def _absent(node: AbsentOverTime, windows: Sequence[Window], ends: list[int], range_ms: int) -> Column:
    """1 at each step where no series has a sample in its window."""
    present = [False] * len(ends)
    for w in windows:
        lows, highs = _windows(w.timestamps, ends, range_ms)
        for k in range(len(ends)):
            if highs[k] > lows[k]:
                present[k] = True
    column = Column(dict(node.labels))
    column.steps.extend(k for k in range(len(ends)) if not present[k])
    column.values.extend([1.0] * len(column.steps))
    return column
