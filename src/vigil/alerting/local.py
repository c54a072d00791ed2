"""Rule expressions evaluated by Vigil's own PromQL evaluator over its series store."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from vigil.alerting.evaluator import Samples
from vigil.config.alerts import AlertRule
from vigil.errors import VigilError
from vigil.metrics.promql import CompiledExpr, compile_expr, evaluate
from vigil.metrics.promql.model import Node, Vec, VectorNode
from vigil.metrics.promql.sweep import arguments
from vigil.metrics.series import SeriesSource


class LocalQuery:
    """The ``Query`` of the rule stage when Vigil evaluates rules itself.

    Inside ``cycle()`` the rules evaluated at one time share their common sub-expressions: a
    ``rate(http_requests_total{job="api"}[5m])`` in an error-ratio rule, a per-path rule and a
    traffic rule is computed once. Samples written while a cycle runs are seen by the next one,
    as with Prometheus' rule groups, which evaluate every rule of a group at the group's time.
    A shared result is let go once the last rule of the cycle that reads it has run, so that a
    cycle holds the results of the rules in flight (one job's, say), not of all of them.
    """

    def __init__(self, rules: list[AlertRule], source: SeriesSource) -> None:
        # Compiled once at start; the stack file was validated, so these compile.
        self.compiled: dict[str, CompiledExpr] = {rule.expr: compile_expr(rule.expr) for rule in rules}
        self.source = source
        self._shared: dict[str, Vec] | None = None
        self._shared_at: float | None = None
        # Each expression's shareable sub-expressions, and how many rules read each of them.
        self._keys = {text: shared_keys(expr.root) for text, expr in self.compiled.items()}
        self._readers = Counter(key for rule in rules for key in self._keys[rule.expr])
        self._left: dict[str, int] = {}

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """Share results among the queries made inside. The cyclic garbage collector pauses
        meanwhile: the shared results are hundreds of thousands of young objects that outlive
        many allocations, so it would walk them several times a cycle (about a tenth of a second
        at 10,000 rules) and find nothing, since evaluation builds no reference cycles. The
        runtime's own collector (every 15 s) and the one resumed here pick up anything else."""
        paused = gc.isenabled()
        gc.disable()
        self._shared, self._shared_at = {}, None  # the first query sets its time and readers
        try:
            yield
        finally:
            self._shared, self._shared_at = None, None  # let the results go between cycles
            if paused:
                gc.enable()

    async def __call__(self, rule: AlertRule, at: float) -> Samples:
        shared = self._shared
        if shared is not None and at != self._shared_at:  # one time per set of shared results
            shared.clear()
            self._left = dict(self._readers)
            self._shared_at = at
        try:
            result = evaluate(self.compiled[rule.expr], at, self.source, shared=shared)
        finally:
            if shared is not None:
                self._done_reading(rule.expr, shared)
        if isinstance(result, float):
            raise VigilError(f"alert {rule.name}: the expression returns a scalar; an alert needs a vector")
        out: list[tuple[Mapping[str, str], float]] = [(sample.labels, sample.value) for sample in result]
        return out

    def _done_reading(self, expr: str, shared: dict[str, Vec]) -> None:
        """One more rule has read ``expr``'s shared results: let go of those no rule left will read.
        (A key some rule reads but ``shared_keys`` misses is only computed again.)"""
        left = self._left
        for key in self._keys[expr]:
            readers = left.get(key, 0) - 1
            left[key] = readers
            if readers <= 0:
                shared.pop(key, None)


def shared_keys(root: Node) -> tuple[str, ...]:
    """The keys of the sub-expressions of ``root`` that a cycle shares: those evaluated at the
    rule's own time (not inside a subquery)."""
    keys: set[str] = set()
    pending = [root] if isinstance(root, VectorNode) else []
    while pending:
        node = pending.pop()
        if node.key is not None:
            keys.add(node.key)
        pending += arguments(node)
    return tuple(keys)  # a tuple: 10,000 rules' frozensets took 2 MiB
