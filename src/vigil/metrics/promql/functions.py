"""Functions over instant vectors and scalars: ``abs`` and its kin, ``clamp*``, ``round``,
``absent``, ``time``, ``scalar``, ``vector``. Ports of Prometheus 2.42's ``promql/functions.go``.

Like Prometheus, every function that computes a new value drops ``__name__`` (the value no longer
measures what the name says); ``sort``, ``sort_desc`` and ``absent`` do not compute one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from vigil.metrics.promql.gofloat import NAN, go_max, go_min
from vigil.metrics.promql.model import (
    EvalContext,
    ScalarNode,
    Vec,
    VectorNode,
    drop_name,
    ensure_unique,
    several_names,
)


def map_values(vec: Vec, fn: Callable[[float], float]) -> Vec:
    out: Vec = [(drop_name(labels), fn(value)) for labels, value in vec]
    # Series that differed only by name now collide; Prometheus refuses that result.
    return ensure_unique(out) if several_names(vec) else out


class MathCall(VectorNode):
    __slots__ = ("arg", "fn")

    def __init__(self, fn: Callable[[float], float], arg: VectorNode) -> None:
        self.fn = fn
        self.arg = arg

    def compute(self, ctx: EvalContext) -> Vec:
        return map_values(self.arg.vector(ctx), self.fn)


class Clamp(VectorNode):
    """``clamp``, ``clamp_min`` and ``clamp_max``; a missing bound is None."""

    __slots__ = ("arg", "high", "low")

    def __init__(self, arg: VectorNode, low: ScalarNode | None, high: ScalarNode | None) -> None:
        self.arg = arg
        self.low = low
        self.high = high

    def compute(self, ctx: EvalContext) -> Vec:
        vec = self.arg.vector(ctx)
        low = self.low.scalar(ctx) if self.low is not None else None
        high = self.high.scalar(ctx) if self.high is not None else None
        if low is not None and high is not None:
            if high < low:
                return []  # clamp() with max < min selects nothing
            return map_values(vec, lambda v: go_max(low, go_min(high, v)))
        if high is not None:
            return map_values(vec, lambda v: go_min(high, v))
        if low is not None:
            return map_values(vec, lambda v: go_max(low, v))
        return map_values(vec, lambda v: v)


class Round(VectorNode):
    __slots__ = ("arg", "to_nearest")

    def __init__(self, arg: VectorNode, to_nearest: ScalarNode | None) -> None:
        self.arg = arg
        self.to_nearest = to_nearest

    def compute(self, ctx: EvalContext) -> Vec:
        to_nearest = self.to_nearest.scalar(ctx) if self.to_nearest is not None else 1.0
        # Prometheus multiplies by the inverse, which it finds rounds more accurately; ties go up.
        inverse = 1.0 / to_nearest if to_nearest else math.copysign(math.inf, to_nearest)

        def fn(v: float) -> float:
            scaled = v * inverse + 0.5
            return math.floor(scaled) / inverse if math.isfinite(scaled) else scaled / inverse

        return map_values(self.arg.vector(ctx), fn)


class Absent(VectorNode):
    """1 when the argument is empty, labelled from its selector's equality matchers."""

    __slots__ = ("arg", "labels")

    def __init__(self, arg: VectorNode, labels: dict[str, str]) -> None:
        self.arg = arg
        self.labels = labels

    def compute(self, ctx: EvalContext) -> Vec:
        if self.arg.vector(ctx):
            return []
        return [(dict(self.labels), 1.0)]


class Time(ScalarNode):
    __slots__ = ()

    def scalar(self, ctx: EvalContext) -> float:
        return ctx.at_ms / 1000


class ScalarOf(ScalarNode):
    """``scalar(v)``: the value of a one-element vector, else NaN."""

    __slots__ = ("arg",)

    def __init__(self, arg: VectorNode) -> None:
        self.arg = arg

    def scalar(self, ctx: EvalContext) -> float:
        vec = self.arg.vector(ctx)
        return vec[0][1] if len(vec) == 1 else NAN


class VectorOf(VectorNode):
    __slots__ = ("arg",)

    def __init__(self, arg: ScalarNode) -> None:
        self.arg = arg

    def compute(self, ctx: EvalContext) -> Vec:
        return [({}, self.arg.scalar(ctx))]
