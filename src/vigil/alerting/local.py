"""Rule expressions evaluated by Vigil's own PromQL evaluator over its series store."""

from __future__ import annotations

from collections.abc import Mapping

from vigil.alerting.evaluator import Query, Samples
from vigil.config.alerts import AlertRule
from vigil.errors import VigilError
from vigil.metrics.promql import CompiledExpr, compile_expr, evaluate
from vigil.metrics.series import SeriesSource


def local_query(rules: list[AlertRule], source: SeriesSource) -> Query:
    # Compiled once at start; the stack file was validated, so these compile.
    compiled: dict[str, CompiledExpr] = {rule.expr: compile_expr(rule.expr) for rule in rules}

    async def query(rule: AlertRule, at: float) -> Samples:
        result = evaluate(compiled[rule.expr], at, source)
        if isinstance(result, float):
            raise VigilError(f"alert {rule.name}: the expression returns a scalar; an alert needs a vector")
        out: list[tuple[Mapping[str, str], float]] = [(sample.labels, sample.value) for sample in result]
        return out

    return query
