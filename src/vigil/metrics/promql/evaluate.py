"""The evaluator's entry points: compile an expression once, evaluate it at any time."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vigil.metrics.promql.aggregate import Aggregate
from vigil.metrics.promql.compiler import parse
from vigil.metrics.promql.labelfuncs import Sort
from vigil.metrics.promql.model import EvalContext, Node, Sample, ScalarNode, Vec, Vector
from vigil.metrics.series import SeriesSource

DEFAULT_LOOKBACK = 300.0  # Prometheus' --query.lookback-delta default: 5 minutes


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    """A parsed and checked PromQL expression, ready to evaluate as often as needed."""

    text: str
    root: Node

    @property
    def returns_scalar(self) -> bool:
        return isinstance(self.root, ScalarNode)

    @property
    def ordered(self) -> bool:
        """Whether the answer's order is Prometheus' (``sort``, ``sort_desc``, ``topk`` or
        ``bottomk`` outermost), for displays that otherwise sort series by their labels."""
        root = self.root
        return isinstance(root, Sort) or (isinstance(root, Aggregate) and root.op in ("topk", "bottomk"))


@lru_cache(maxsize=65_536)  # validation and the rule stage compile the same rules; do it once
def compile_expr(text: str) -> CompiledExpr:
    """Parse ``text`` and build its evaluation tree; ``PromQLError`` names what is wrong or not
    supported (a syntax error, an unknown function, …)."""
    return CompiledExpr(text, parse(text))


def evaluate(
    expr: CompiledExpr,
    at: float,
    source: SeriesSource,
    *,
    lookback: float = DEFAULT_LOOKBACK,
    shared: dict[str, Vec] | None = None,
    start: float | None = None,
    end: float | None = None,
) -> Vector | float:
    """The instant-query result of ``expr`` at Unix time ``at``: a scalar, or one ``Sample`` per
    series, in Prometheus' order where it has one (``sort``, ``sort_desc``, ``topk``,
    ``bottomk``), else in no particular order. Like Prometheus' API, ``at`` counts to the
    millisecond.

    ``start`` and ``end``: the window of the range query this evaluation is a step of, what
    ``@ start()`` and ``@ end()`` read at; both are ``at`` for an instant query.

    ``shared``: one dict passed to several evaluations at the same ``at`` over unchanged samples
    (say, the rules of one cycle) lets them compute each common sub-expression once; a caller
    must not reuse it at another time or after samples it may read have been written."""
    at_ms = round(at * 1000)
    start_ms = at_ms if start is None else round(start * 1000)
    end_ms = at_ms if end is None else round(end * 1000)
    ctx = EvalContext(at_ms, source, round(lookback * 1000), shared, start_ms, end_ms)
    root = expr.root
    if isinstance(root, ScalarNode):
        return root.scalar(ctx)
    vec = root.vector(ctx)
    if shared is not None:  # another evaluation may hold the same label dicts
        return [Sample(dict(labels), value) for labels, value in vec]
    # Labels built during evaluation are fresh dicts, one per sample; only the store's own
    # (read-only) mappings need a copy.
    return [Sample(labels if type(labels) is dict else dict(labels), value) for labels, value in vec]
