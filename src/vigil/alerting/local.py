"""Rule expressions evaluated by Vigil's own PromQL evaluator over its series store."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from vigil.alerting.evaluator import Samples
from vigil.config.alerts import AlertRule
from vigil.errors import VigilError
from vigil.metrics.promql import CompiledExpr, compile_expr, evaluate
from vigil.metrics.promql.model import Vec
from vigil.metrics.series import SeriesSource


class LocalQuery:
    """The ``Query`` of the rule stage when Vigil evaluates rules itself.

    Inside ``cycle()`` the rules evaluated at one time share their common sub-expressions: a
    ``rate(http_requests_total{job="api"}[5m])`` in an error-ratio rule, a per-path rule and a
    traffic rule is computed once. Samples written while a cycle runs are seen by the next one,
    as with Prometheus' rule groups, which evaluate every rule of a group at the group's time.
    """

    def __init__(self, rules: list[AlertRule], source: SeriesSource) -> None:
        # Compiled once at start; the stack file was validated, so these compile.
        self.compiled: dict[str, CompiledExpr] = {rule.expr: compile_expr(rule.expr) for rule in rules}
        self.source = source
        self._shared: dict[str, Vec] | None = None
        self._shared_at: float | None = None

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """Share results among the queries made inside. The cyclic garbage collector pauses
        meanwhile: the shared results are hundreds of thousands of young objects that outlive
        many allocations, so it would walk them several times a cycle (about a tenth of a second
        at 10,000 rules) and find nothing, since evaluation builds no reference cycles. The
        runtime's own collector (every 15 s) and the one resumed here pick up anything else."""
        paused = gc.isenabled()
        gc.disable()
        self._shared, self._shared_at = {}, None
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
            self._shared_at = at
        result = evaluate(self.compiled[rule.expr], at, self.source, shared=shared)
        if isinstance(result, float):
            raise VigilError(f"alert {rule.name}: the expression returns a scalar; an alert needs a vector")
        out: list[tuple[Mapping[str, str], float]] = [(sample.labels, sample.value) for sample in result]
        return out
