"""Subqueries, ``expr[range:step]``: an instant vector evaluated at every step of a window, read by
a range function as a range selector's samples would be.

As Prometheus 2.42's ``evalSubquery``: the steps are the multiples of ``step`` (in Unix
milliseconds) from the first at or after ``t - offset - range`` up to ``t - offset``, where ``t``
is the evaluation time or the subquery's ``@``; without a step, Vigil's default of one minute
(Prometheus' global evaluation interval). The function then sees the closed window
``[t - offset - range, t - offset]`` of that result, as it sees a range selector's.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from vigil.metrics.promql.model import (
    AT_NONE,
    EvalContext,
    PromQLError,
    VectorNode,
    at_key,
    label_key,
)
from vigil.metrics.promql.selectors import MatrixSelector, Window
from vigil.metrics.series import SeriesData, SeriesEdges

DEFAULT_STEP_MS = 60_000
# A subquery's steps in one evaluation, bounded as a range query's points per series are.
MAX_STEPS = 11_000


class Subquery(MatrixSelector):
    """A range argument like ``MatrixSelector``, whose samples come from evaluating ``inner``."""

    __slots__ = ("inner", "step_ms")

    def __init__(
        self,
        inner: VectorNode,
        range_ms: int,
        step_ms: int,
        offset_ms: int,
        at_kind: int = AT_NONE,
        at_ms: int = 0,
    ) -> None:
        super().__init__((), offset_ms, range_ms, at_kind, at_ms)
        self.inner = inner
        self.step_ms = step_ms if step_ms > 0 else DEFAULT_STEP_MS
        if range_ms // self.step_ms + 1 > MAX_STEPS:
            raise PromQLError(
                f"subquery of more than {MAX_STEPS:,} steps: use a larger step or a shorter range"
            )
        # Equal keys must mean equal results: the inner node's text when it has one, else this
        # node itself (compiled expressions live as long as the process).
        inner_key = inner.key if inner.key is not None else f"node{id(self)}"
        self.key = sys.intern(
            f"({inner_key})[{range_ms}:{self.step_ms}]@-{offset_ms}{at_key(at_kind, at_ms)}"
        )

    def steps(self, ctx: EvalContext) -> range:
        start, end = self.bounds(ctx)
        step = self.step_ms
        first = -((-start) // step) * step  # the first multiple of step at or after start
        return range(first, end + 1, step)

    def windows(self, ctx: EvalContext, *, named: bool = True) -> Sequence[Window]:
        """The inner expression's results as windows; their labels are the inner's own (``named``
        changes nothing: the caller drops a name it does not keep)."""
        times = self.steps(ctx)
        found: dict[frozenset[tuple[str, str]], tuple[SeriesData, list[float], list[float]]] = {}
        for t in times:
            # Each step is an evaluation of its own: nothing shared with the outer one's time.
            step_ctx = EvalContext(t, ctx.source, ctx.lookback_ms, None, ctx.start_ms, ctx.end_ms)
            for labels, value in self.inner.vector(step_ctx):
                key = label_key(labels)
                series = found.get(key)
                if series is None:
                    stamps: list[float] = []
                    values: list[float] = []
                    series = found[key] = (SeriesData(labels, stamps, values), stamps, values)
                series[1].append(t / 1000)
                series[2].append(value)
        return [series for series, _, _ in found.values()]

    def edges(self, ctx: EvalContext) -> list[Window | SeriesEdges]:
        """The windows whole: a subquery's samples are made here, not read from a source."""
        return list(self.windows(ctx, named=False))
