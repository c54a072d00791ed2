"""Binary operators: arithmetic, comparisons (filtering or ``bool``) and ``and``/``or``/``unless``,
between scalars and vectors, with one-to-one, ``group_left`` and ``group_right`` vector matching.
Ports of ``VectorBinop``, ``VectorscalarBinop``, ``resultMetric`` and the set operations in
Prometheus 2.42's ``promql/engine.go``, including its errors for ambiguous matches.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Hashable, Sequence

from vigil.metrics.promql.gofloat import div, mod, pow_
from vigil.metrics.promql.model import (
    NAME,
    EvalContext,
    Labels,
    PromQLError,
    ScalarNode,
    Vec,
    VectorNode,
    drop_name,
    ensure_unique,
    format_labels,
    several_names,
)

ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": div,
    "%": mod,
    "^": pow_,
    "atan2": math.atan2,
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}
SET_OPERATORS = frozenset({"and", "or", "unless"})


def drops_name(op: str) -> bool:
    # shouldDropMetricName: arithmetic changes what the value measures; atan2 and comparisons do not.
    return op in ARITHMETIC and op != "atan2"


Signature = Callable[[Labels], Hashable]


def signature(on: bool, names: Sequence[str]) -> Signature:
    """The match key of a series: the ``on`` labels, or every label but the ``ignoring`` ones and
    ``__name__``. A missing label and an empty one are the same, as in Prometheus."""
    if on:
        kept = tuple(sorted(set(names)))
        return lambda ls: tuple([ls.get(name, "") for name in kept])
    dropped = frozenset(names) | {NAME}
    return lambda ls: frozenset((k, v) for k, v in ls.items() if v and k not in dropped)


class ScalarBinary(ScalarNode):
    __slots__ = ("fn", "lhs", "rhs")

    def __init__(self, op: str, lhs: ScalarNode, rhs: ScalarNode) -> None:
        self.lhs = lhs
        self.rhs = rhs
        if op in COMPARISONS:  # only legal with bool between scalars: 1 or 0
            cmp = COMPARISONS[op]
            self.fn: Callable[[float, float], float] = lambda a, b: 1.0 if cmp(a, b) else 0.0
        else:
            self.fn = ARITHMETIC[op]

    def scalar(self, ctx: EvalContext) -> float:
        return self.fn(self.lhs.scalar(ctx), self.rhs.scalar(ctx))


class Negate(VectorNode):
    __slots__ = ("arg",)

    def __init__(self, arg: VectorNode) -> None:
        self.arg = arg

    def compute(self, ctx: EvalContext) -> Vec:
        vec = self.arg.vector(ctx)
        out: Vec = [(drop_name(labels), -value) for labels, value in vec]
        return ensure_unique(out) if several_names(vec) else out


class NegateScalar(ScalarNode):
    __slots__ = ("arg",)

    def __init__(self, arg: ScalarNode) -> None:
        self.arg = arg

    def scalar(self, ctx: EvalContext) -> float:
        return -self.arg.scalar(ctx)


class VectorScalar(VectorNode):
    """A vector and a scalar, either side. A comparison keeps the vector's value (and name) when it
    holds; with ``bool`` every element stays, valued 1 or 0, without its name."""

    __slots__ = ("op", "return_bool", "scalar_left", "scalar_node", "vector_node")

    def __init__(
        self, op: str, vec: VectorNode, scalar: ScalarNode, *, scalar_left: bool, return_bool: bool
    ) -> None:
        self.op = op
        self.vector_node = vec
        self.scalar_node = scalar
        self.scalar_left = scalar_left
        self.return_bool = return_bool

    def compute(self, ctx: EvalContext) -> Vec:
        vec = self.vector_node.vector(ctx)
        s = self.scalar_node.scalar(ctx)
        cmp = COMPARISONS.get(self.op)
        if cmp is not None:
            if self.return_bool:
                if self.scalar_left:
                    return self._unique(vec, [(drop_name(ls), 1.0 if cmp(s, v) else 0.0) for ls, v in vec])
                return self._unique(vec, [(drop_name(ls), 1.0 if cmp(v, s) else 0.0) for ls, v in vec])
            if self.scalar_left:
                return [(ls, v) for ls, v in vec if cmp(s, v)]
            return [(ls, v) for ls, v in vec if cmp(v, s)]
        fn = ARITHMETIC[self.op]
        if not drops_name(self.op):
            if self.scalar_left:
                return [(ls, fn(s, v)) for ls, v in vec]
            return [(ls, fn(v, s)) for ls, v in vec]
        if self.scalar_left:
            return self._unique(vec, [(drop_name(ls), fn(s, v)) for ls, v in vec])
        return self._unique(vec, [(drop_name(ls), fn(v, s)) for ls, v in vec])

    @staticmethod
    def _unique(vec: Vec, out: Vec) -> Vec:
        return ensure_unique(out) if several_names(vec) else out


class SetOperation(VectorNode):
    """``and`` (left elements with a match), ``or`` (left, then unmatched right), ``unless``
    (left elements without a match); labels and values always come from the side they are on."""

    __slots__ = ("lhs", "op", "rhs", "sig")

    def __init__(self, op: str, lhs: VectorNode, rhs: VectorNode, sig: Signature) -> None:
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.sig = sig

    def compute(self, ctx: EvalContext) -> Vec:
        lhs, rhs = self.lhs.vector(ctx), self.rhs.vector(ctx)
        sig = self.sig
        if self.op == "and":
            if not lhs or not rhs:
                return []
            right = {sig(ls) for ls, _ in rhs}
            return [s for s in lhs if sig(s[0]) in right]
        if self.op == "or":
            if not lhs or not rhs:
                return lhs or rhs
            left = {sig(ls) for ls, _ in lhs}
            return lhs + [s for s in rhs if sig(s[0]) not in left]
        if not lhs or not rhs:
            return lhs
        right = {sig(ls) for ls, _ in rhs}
        return [s for s in lhs if sig(s[0]) not in right]


def _element(op: str) -> Callable[[float, float], tuple[float, bool]]:
    """``vectorElemBinop``: the value and whether to keep it; a comparison keeps the left value."""
    cmp = COMPARISONS.get(op)
    if cmp is not None:
        return lambda a, b: (a, cmp(a, b))
    fn = ARITHMETIC[op]
    return lambda a, b: (fn(a, b), True)


class VectorVector(VectorNode):
    """Arithmetic or comparison between two vectors, element by element on matching signatures.
    For ``group_right`` the sides are swapped so that the right is always the "one" side."""

    __slots__ = (
        "drop",
        "element",
        "include",
        "lhs",
        "matching",
        "on",
        "one_to_one",
        "return_bool",
        "rhs",
        "sig",
        "swapped",
    )

    def __init__(
        self,
        op: str,
        lhs: VectorNode,
        rhs: VectorNode,
        *,
        on: bool,
        matching: Sequence[str],
        card: str,
        include: Sequence[str],
        return_bool: bool,
    ) -> None:
        # card: "one-to-one", "many-to-one" (group_left) or "one-to-many" (group_right)
        self.swapped = card == "one-to-many"
        self.lhs, self.rhs = (rhs, lhs) if self.swapped else (lhs, rhs)
        self.one_to_one = card == "one-to-one"
        self.on = on
        self.matching = frozenset(matching)
        self.include = tuple(include)
        self.return_bool = return_bool
        self.sig = signature(on, matching)
        self.element = _element(op)
        self.drop = drops_name(op)

    def compute(self, ctx: EvalContext) -> Vec:
        lhs, rhs = self.lhs.vector(ctx), self.rhs.vector(ctx)
        if not lhs or not rhs:
            return []
        sig = self.sig
        right: dict[Hashable, tuple[Labels, float]] = {}
        for sample in rhs:
            key = sig(sample[0])
            if key in right:
                side = "left" if self.swapped else "right"
                group = format_labels(self._match_labels(sample[0]))
                raise PromQLError(
                    f"found duplicate series for the match group {group} on the {side} hand-side of the operation: "
                    f"[{format_labels(sample[0])}, {format_labels(right[key][0])}];"
                    "many-to-many matching not allowed: matching labels must be unique on one side"
                )
            right[key] = sample
        matched_once: set[Hashable] = set()
        matched_many: dict[Hashable, set[frozenset[tuple[str, str]]]] = {}
        out: Vec = []
        for ls, lv in lhs:
            key = sig(ls)
            found = right.get(key)
            if found is None:
                continue
            rs, rv = found
            value, keep = self.element(*((rv, lv) if self.swapped else (lv, rv)))
            if self.return_bool:
                value = 1.0 if keep else 0.0
            elif not keep:
                continue
            labels = self._result_labels(ls, rs)
            if self.one_to_one:
                if key in matched_once:
                    raise PromQLError(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                    )
                matched_once.add(key)
            else:
                seen = matched_many.setdefault(key, set())
                result_key = frozenset(labels.items())
                if result_key in seen:
                    raise PromQLError(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                    )
                seen.add(result_key)
            out.append((labels, value))
        # One-to-one results are unique by construction (one per match group, labelled by it);
        # group_left/right results are checked within a group above, and across groups only an
        # odd include list could make two equal.
        return ensure_unique(out) if len(out) > 1 and not self.one_to_one else out

    def _match_labels(self, labels: Labels) -> Labels:
        if self.on:
            return {k: v for k, v in labels.items() if k in self.matching}
        return {k: v for k, v in labels.items() if k not in self.matching and k != NAME}

    def _result_labels(self, ls: Labels, rs: Labels) -> Labels:
        """``resultMetric``: the "many" side's labels, without ``__name__`` after arithmetic, cut
        to the ``on`` labels (or without the ``ignoring`` ones) for one-to-one matching, plus the
        ``group_x`` labels taken from the "one" side."""
        if self.one_to_one:
            if self.on:
                labels = {k: v for k, v in ls.items() if k in self.matching}
            else:
                labels = {k: v for k, v in ls.items() if k not in self.matching}
            if self.drop or self.return_bool:
                labels.pop(NAME, None)
            return labels
        if not self.include:
            return drop_name(ls) if self.drop or self.return_bool else ls
        labels = dict(ls)
        if self.drop:
            labels.pop(NAME, None)
        for name in self.include:
            value = rs.get(name)
            if value:
                labels[name] = value
            else:
                labels.pop(name, None)
        if self.return_bool:
            labels.pop(NAME, None)
        return labels
