"""Instant and range selectors: which samples of which series an expression reads.

Both follow Prometheus 2.42's engine (``vectorSelectorSingle`` and ``matrixIterSlice``): times are
integer milliseconds, an instant selector takes the newest sample in ``[t - lookback, t]`` unless that
sample is a stale marker, and a range selector takes every sample in the closed window
``[t - range, t]`` except stale markers. ``SeriesSource.select`` returns ``(start, end]``, so the start
handed to it is the float just below the window's start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigil.metrics.promql.model import (
    AT_NONE,
    NAME,
    EvalContext,
    Labels,
    Vec,
    VectorNode,
    anchor,
    at_key,
    drop_name,
    selector_key,
)
from vigil.metrics.series import Matcher, MatchOp, SeriesData, SeriesEdges, is_stale


def _below(seconds: float) -> float:
    return math.nextafter(seconds, -math.inf)


def single_name(matchers: Sequence[Matcher]) -> bool:
    """Whether every selected series has the same ``__name__`` (so dropping it keeps them distinct)."""
    return any(m.name == NAME and m.op is MatchOp.EQUAL for m in matchers)


class VectorSelector(VectorNode):
    """``at_kind`` and ``at_ms``: its ``@`` modifier, see ``model.anchor``."""

    __slots__ = ("at_kind", "at_ms", "key", "matchers", "offset_ms")

    def __init__(
        self, matchers: Sequence[Matcher], offset_ms: int, at_kind: int = AT_NONE, at_ms: int = 0
    ) -> None:
        self.matchers = tuple(matchers)
        self.offset_ms = offset_ms
        self.at_kind = at_kind
        self.at_ms = at_ms
        self.key = selector_key(matchers, offset_ms, 0, at_key(at_kind, at_ms))

    def _window(self, ctx: EvalContext) -> tuple[float, float]:
        ref = anchor(ctx, self.at_kind, self.at_ms) - self.offset_ms
        return _below((ref - ctx.lookback_ms) / 1000), ref / 1000

    def compute(self, ctx: EvalContext) -> Vec:
        start, end = self._window(ctx)
        out: Vec = []
        append = out.append
        for series in ctx.source.select(self.matchers, start, end):
            values = series.values
            if values:
                value = values[-1]
                # A stale marker as the newest sample means the series ended: it is absent now,
                # not for the rest of the lookback delta.
                if not is_stale(value):
                    append((series.labels, value))
        return out

    def stamps(self, ctx: EvalContext) -> Vec:
        """``timestamp()`` of the selector: each series' newest sample time, in seconds."""
        start, end = self._window(ctx)
        return [
            (drop_name(s.labels), round(s.timestamps[-1] * 1000) / 1000)
            for s in ctx.source.select(self.matchers, start, end)
            if s.values and not is_stale(s.values[-1])
        ]


# One series inside a range selector's window: its samples, stale markers removed.
Window = SeriesData


class MatrixSelector:
    """Not a node of its own: PromQL only lets range vectors into functions, which read them
    through ``windows``."""

    __slots__ = ("at_kind", "at_ms", "key", "matchers", "offset_ms", "range_ms")

    def __init__(
        self,
        matchers: Sequence[Matcher],
        offset_ms: int,
        range_ms: int,
        at_kind: int = AT_NONE,
        at_ms: int = 0,
    ) -> None:
        self.matchers = tuple(matchers)
        self.offset_ms = offset_ms
        self.range_ms = range_ms
        self.at_kind = at_kind
        self.at_ms = at_ms
        self.key = selector_key(matchers, offset_ms, range_ms, at_key(at_kind, at_ms))

    def bounds(self, ctx: EvalContext) -> tuple[int, int]:
        end = anchor(ctx, self.at_kind, self.at_ms) - self.offset_ms
        return end - self.range_ms, end

    def windows(self, ctx: EvalContext, *, named: bool = True) -> Sequence[Window]:
        """The series' windows; ``named`` False for a caller that drops ``__name__`` (their labels
        may then lack it, see ``SeriesSource.select``)."""
        start, end = self.bounds(ctx)
        found = ctx.source.select(self.matchers, _below(start / 1000), end / 1000, named=named)
        return [w for w in map(without_stale, found) if w is not None]

    def edges(self, ctx: EvalContext) -> list[Window | SeriesEdges]:
        """As ``windows`` not ``named``, but a window the source vouches holds no NaN and no drop may
        come as its edges alone (``SeriesSource.select_edges``)."""
        start, end = self.bounds(ctx)
        out: list[Window | SeriesEdges] = []
        for found in ctx.source.select_edges(self.matchers, _below(start / 1000), end / 1000):
            w = without_stale(found) if isinstance(found, SeriesData) else found
            if w is not None:
                out.append(w)
        return out


def nameless(w: Window) -> Labels:
    """A window's labels without ``__name__``: the source's copy when it made one."""
    return drop_name(w.labels) if w.nameless is None else w.nameless


def without_stale(series: SeriesData) -> Window | None:
    """The series without its stale markers; None if nothing is left."""
    values = series.values
    if not values:
        return None
    if not series.nan_free:  # vouched for: nothing to look at
        # sum() runs in C: a finite total proves there is no NaN, so a source that cannot tell
        # still skips a Python-level look at every sample for stale markers.
        total = sum(values)
        if total - total != 0.0:
            keep = [i for i, v in enumerate(values) if not is_stale(v)]
            if not keep:
                return None
            if len(keep) != len(values):
                ts = series.timestamps
                # Removing a marker joins the samples around it: whether they drop is unknown.
                return SeriesData(
                    series.labels, [ts[i] for i in keep], [values[i] for i in keep], series.nameless
                )
    return series


def absent_labels(matchers: Sequence[Matcher]) -> dict[str, str]:
    """The labels ``absent()`` gives its 1: those set by exactly one equality matcher
    (``createLabelsForAbsentFunction``; a label matched twice is dropped, as Prometheus does)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in matchers:
        if m.name == NAME:
            continue
        if m.op is MatchOp.EQUAL and m.name not in seen:
            seen.add(m.name)
            if m.value:
                out[m.name] = m.value
                continue
        # Setting a label to "" removes it in Prometheus' label builder, as does a second matcher.
        out.pop(m.name, None)
    return out
