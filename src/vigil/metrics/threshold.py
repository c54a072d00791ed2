"""A rule's threshold: the number its expression is compared with, drawn as a line on its graph.

``avg(x) > 0.8`` fires where ``avg(x)`` is above 0.8, and returns nothing elsewhere: a graph of
the whole expression would show only the firing stretches. So a rule whose expression ends in
a comparison with a constant is drawn as its measured side, with the constant as a line. Any
other expression (``x > bool 1``, ``a > b``, ``x and y``) is drawn as it is, without a line.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from vigil.metrics.promql import CompiledExpr, compile_expr
from vigil.metrics.promql.binary import COMPARISONS, VectorScalar
from vigil.metrics.promql.model import Constant

# ``0.8 < x`` is ``x > 0.8``: the operator as seen from the measured side.
_MIRRORED = {"==": "==", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}
_OPERATORS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_OPERATORS |= {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Threshold:
    """``op`` and ``value`` as in ``measured op value``: ``>`` and 0.8 for ``avg(x) > 0.8``."""

    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"

    def crossed_by(self, measured: float) -> bool:
        """Whether ``measured`` is where the rule's expression returns it (``measured op value``)."""
        return bool(_OPERATORS[self.op](measured, self.value))


@dataclass(frozen=True)
class Split:
    """What a rule's graph draws: ``measured`` over time, and ``threshold`` if it has one."""

    measured: CompiledExpr
    threshold: Threshold | None


def split(expr: str) -> Split:
    """``expr`` parted into its measured side and its threshold; ``PromQLError`` if it does not
    compile (the stack file's rules were validated at start, so theirs do)."""
    compiled = compile_expr(expr)
    root = compiled.root
    if (
        isinstance(root, VectorScalar)
        and root.op in COMPARISONS
        and not root.return_bool
        and isinstance(root.scalar_node, Constant)
    ):
        op = _MIRRORED[root.op] if root.scalar_left else root.op
        measured = CompiledExpr(f"{expr} (its measured side)", root.vector_node)
        return Split(measured, Threshold(op, root.scalar_node.value))
    return Split(compiled, None)
