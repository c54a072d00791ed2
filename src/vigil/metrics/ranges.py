"""Range queries: an expression evaluated at every step of a window, one series per label set.

As Prometheus' ``query_range`` does it: the instant query at ``start``, ``start + step``, … up to
``end``, each step's samples filed under their labels. The API's ``query_range``, the dashboard's
graphs and the rule pages all read through here.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from vigil.metrics.promql.evaluate import DEFAULT_LOOKBACK, CompiledExpr
from vigil.metrics.promql.model import AT_NONE, EvalContext, PromQLError, ScalarNode, Vec, VectorNode
from vigil.metrics.promql.selectors import VectorSelector
from vigil.metrics.promql.sweep import Column, Stepped, Swept, by_step, in_step_order, leaves, stepped, sweep
from vigil.metrics.promql.sweep_aggregate import SweepPlan, fold, plan
from vigil.metrics.promql.sweep_histogram import quantile_columns
from vigil.metrics.series import Matcher, SeriesData, SeriesEdges, SeriesSource, is_stale

# Prometheus refuses a range query of more than 11,000 steps (11,001 points) per series.
MAX_POINTS = 11_000


@dataclass(slots=True)
class RangeSeries:
    """One series of a range query: its labels and its ``(time, value)`` points in time order."""

    labels: Mapping[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def steps(start: float, end: float, step: float) -> list[float]:
    """The evaluation times of a range query; ``PromQLError`` for a window Prometheus refuses."""
    if step <= 0:
        raise PromQLError("zero or negative query resolution step widths are not accepted")
    if end < start:
        raise PromQLError("end timestamp must not be before start time")
    # Times in whole milliseconds, as Prometheus steps them, so that 0.1-second steps do not drift.
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), max(1, round(step * 1000))
    count = (end_ms - start_ms) // step_ms + 1
    if count - 1 > MAX_POINTS:  # Prometheus counts the steps between start and end
        raise PromQLError(
            f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
    return [(start_ms + i * step_ms) / 1000.0 for i in range(count)]


class RangeSource:
    """The store as one range query reads it: each selector's series are fetched from the store once,
    for the whole range, and each step's window is cut from them with two binary searches, instead
    of every step matching labels and walking the store again. Series the store gains while the
    query runs are not seen: the query reads one snapshot.

    A window's ``nan_free`` and ``monotonic`` are those of the whole fetched span (true of every
    window inside it), else False, which only means "not known"."""

    def __init__(self, source: SeriesSource) -> None:
        self.source = source
        self._fetched: dict[tuple[tuple[Matcher, ...], bool], tuple[float, list[SeriesData]]] = {}

    def select(
        self, matchers: Sequence[Matcher], start: float, end: float, *, named: bool = True
    ) -> list[SeriesData]:
        key = (tuple(matchers), named)
        fetched = self._fetched.get(key)
        if fetched is None or start < fetched[0]:  # steps go forward: a first look, or a longer range
            found_all = self.source.select(key[0], start, math.inf, named=named)
            fetched = self._fetched[key] = (start, list(found_all))
        found: list[SeriesData] = []
        append = found.append
        new_tuple = tuple.__new__
        for series in fetched[1]:
            timestamps = series.timestamps
            low = bisect_right(timestamps, start)
            high = bisect_right(timestamps, end, low)
            if low < high:
                append(
                    new_tuple(
                        SeriesData,
                        (
                            series.labels,
                            timestamps[low:high],
                            series.values[low:high],
                            series.nameless,
                            series.nan_free,
                            series.monotonic,
                        ),
                    )
                )
        return found

    def select_edges(
        self, matchers: Sequence[Matcher], start: float, end: float
    ) -> list[SeriesData | SeriesEdges]:
        """``select``'s windows: cut from the span fetched once, they cost no more whole."""
        return list(self.select(matchers, start, end, named=False))


class RangeEvaluation:
    """A range query's points, gathered a slice of steps at a time (``run``), so that a caller can
    check a deadline and let other work in between slices.

    Each step is the instant query at that time, as ``evaluate`` gives it. A series' label set is
    keyed once per series rather than once per point: the labels the store hands out are the same
    read-only mapping at every step, and are looked up by identity.

    The range functions inside the expression (``rate(x[5m])``, ``avg_over_time(…)``) are swept
    over a slice's steps series by series (``promql.sweep``) rather than computed at each step, and
    so are the aggregations of them (``promql.sweep_aggregate``) and the ``histogram_quantile``s of
    either (``promql.sweep_histogram``); what holds them is evaluated per step over the swept
    vectors."""

    def __init__(
        self,
        expr: CompiledExpr,
        source: SeriesSource,
        window: tuple[float, float],
        *,
        lookback: float = DEFAULT_LOOKBACK,
    ) -> None:
        self.expr = expr
        # The query's start and end: what `@ start()` and `@ end()` read at, as in Prometheus
        # (the end given, not the last step).
        self.start_ms, self.end_ms = round(window[0] * 1000), round(window[1] * 1000)
        self.source = RangeSource(source)
        self.lookback_ms = round(lookback * 1000)
        self.points = 0
        self._scalar: list[tuple[float, float]] = []
        self._by_labels: dict[tuple[tuple[str, str], ...], RangeSeries] = {}
        # id(labels) -> (labels, series), for mappings that outlive the query (so ids stay unique).
        self._known: dict[int, tuple[Mapping[str, str], RangeSeries]] = {}
        self._leaves: list[Swept] = [] if expr.returns_scalar else leaves(cast(VectorNode, expr.root))
        self._plan = SweepPlan() if expr.returns_scalar else plan(cast(VectorNode, expr.root))

    @property
    def series(self) -> int:
        return len(self._by_labels)

    def run(self, times: Sequence[float]) -> None:
        root = self.expr.root
        if self.expr.returns_scalar:
            scalar = cast(ScalarNode, root)
            for at in times:
                self._scalar.append((at, scalar.scalar(self._context(at))))
            self.points += len(times)
            return
        if type(root) is VectorSelector and root.at_kind == AT_NONE and times:
            self._run_selector(root, times)
            return
        root = cast(VectorNode, root)
        shared = self._sweep(root, times) if times else []
        if shared is None:
            return  # the root was swept: its points are in
        known = self._known
        for i, at in enumerate(times):
            swept = {key: vecs[i] for key, vecs in shared} if shared else None
            vec = root.vector(self._context(at, swept))
            self.points += len(vec)
            for labels, value in vec:
                seen = known.get(id(labels))
                if seen is not None and seen[0] is labels:
                    seen[1].points.append((at, value))
                else:
                    self._series_of(labels).points.append((at, value))

    def _sweep(self, root: VectorNode, times: Sequence[float]) -> list[tuple[str, list[Vec]]] | None:
        """The swept nodes' vectors at each step, by key, for the nodes that something evaluated per
        step reads; None when the root itself was swept and its points are added."""
        ats = [round(at * 1000) for at in times]
        count = len(times)
        per_step = self._plan.per_step
        shared: list[tuple[str, list[Vec]]] = []
        columns_of: dict[str, list[Column]] = {}
        for leaf in self._leaves:
            columns = sweep(leaf, self.source, ats)
            if columns is None or leaf.key is None:
                continue  # computed per step, as any other node
            if leaf is root and self._add_columns(columns, times):
                return None
            columns_of[leaf.key] = columns
            if leaf.key in per_step:
                shared.append((leaf.key, by_step(columns, count)))
        # Each swept aggregation's groups, the group of each of its argument's columns, those columns.
        folded: dict[str, tuple[list[Stepped], list[int], list[Column]]] = {}
        for aggregate in self._plan.aggregates:
            columns = columns_of.get(aggregate.arg.key or "")
            if columns is not None and aggregate.key is not None:
                groups, group_of = fold(aggregate, columns, count)
                if aggregate is root and self._add_stepped(groups, times):
                    return None
                folded[aggregate.key] = (groups, group_of, columns)
                if aggregate.key in per_step:
                    shared.append((aggregate.key, in_step_order(groups, group_of, columns, count)))
        for histogram in self._plan.histograms:
            arg_key = histogram.arg.key or ""
            found = folded.get(arg_key)
            if found is None and arg_key in columns_of:
                columns = columns_of[arg_key]
                found = (stepped(columns, count), list(range(len(columns))), columns)
            if found is None or histogram.key is None:
                continue  # computed per step
            args, arg_of, columns = found
            quantiles = quantile_columns(histogram, args, count)
            if quantiles is None:  # per step, over the argument's vectors
                shared.append((arg_key, in_step_order(args, arg_of, columns, count)))
                continue
            if histogram is root and self._add_stepped(quantiles[0], times):
                return None
            owner = [quantiles[1][a] for a in arg_of]
            shared.append((histogram.key, in_step_order(quantiles[0], owner, columns, count)))
        return shared

    def _add_columns(self, columns: Sequence[Column], times: Sequence[float]) -> bool:
        """The swept root's columns as points, each series' at once; False (nothing added) when
        two columns fall into one series, whose points must then interleave step by step."""
        targets = [self._series_of(column.labels) for column in columns]
        if len({id(series) for series in targets}) != len(targets):
            return False
        for column, series in zip(columns, targets, strict=True):
            series.points.extend(zip(map(times.__getitem__, column.steps), column.values, strict=True))
            self.points += len(column.steps)
        return True

    def _add_stepped(self, series: Sequence[Stepped], times: Sequence[float]) -> bool:
        """The swept root's series as points, as ``_add_columns`` adds columns."""
        targets = [self._series_of(one.labels) for one in series]
        if len({id(target) for target in targets}) != len(targets):
            return False
        for one, target in zip(series, targets, strict=True):
            values, places = one.values, one.places
            points = [(times[k], values[k]) for k in range(len(times)) if places[k] >= 0]
            target.points.extend(points)
            self.points += len(points)
        return True

    def _run_selector(self, root: VectorSelector, times: Sequence[float]) -> None:
        """A bare selector (``up``, a gauge: what a graph shows most): each series is walked once
        for all of the slice's steps, instead of being selected again at every step. Each step
        takes the newest sample in ``[t - lookback, t]`` unless it is a stale marker, as
        ``VectorSelector`` does."""
        refs = [round(at * 1000) - root.offset_ms for at in times]
        lookback = self.lookback_ms
        low = math.nextafter((refs[0] - lookback) / 1000, -math.inf)
        for series in self.source.select(root.matchers, low, refs[-1] / 1000):
            timestamps, values = series.timestamps, series.values
            points: list[tuple[float, float]] = []
            i = 0
            for at, ref in zip(times, refs, strict=True):
                i = bisect_right(timestamps, ref / 1000, i)
                if i and timestamps[i - 1] >= (ref - lookback) / 1000:
                    value = values[i - 1]
                    if series.nan_free or not is_stale(value):
                        points.append((at, value))
            if points:
                self.points += len(points)
                self._series_of(series.labels).points.extend(points)

    def _series_of(self, labels: Mapping[str, str]) -> RangeSeries:
        seen = self._known.get(id(labels))
        if seen is not None and seen[0] is labels:
            return seen[1]
        key = tuple(sorted(labels.items()))
        series = self._by_labels.get(key)
        if series is None:
            series = self._by_labels[key] = RangeSeries(dict(labels))
        if type(labels) is not dict:  # the store's own mapping, not one built for this step
            self._known[id(labels)] = (labels, series)
        return series

    def _context(self, at: float, shared: dict[str, Vec] | None = None) -> EvalContext:
        return EvalContext(
            round(at * 1000), self.source, self.lookback_ms, shared, self.start_ms, self.end_ms
        )

    def result(self) -> list[RangeSeries] | list[tuple[float, float]]:
        """The scalar's points, or one series per label set in Prometheus' order (by labels)."""
        if self.expr.returns_scalar:
            return self._scalar
        return [self._by_labels[key] for key in sorted(self._by_labels)]


def evaluate_range(
    expr: CompiledExpr,
    start: float,
    end: float,
    step: float,
    source: SeriesSource,
    *,
    lookback: float = DEFAULT_LOOKBACK,
) -> list[RangeSeries] | list[tuple[float, float]]:
    """The points of ``expr`` over ``[start, end]`` every ``step`` seconds: one ``RangeSeries`` per
    label set, sorted by labels as Prometheus sorts a matrix, or for a scalar expression its
    ``(time, value)`` points."""
    evaluation = RangeEvaluation(expr, source, (start, end), lookback=lookback)
    evaluation.run(steps(start, end, step))
    return evaluation.result()
