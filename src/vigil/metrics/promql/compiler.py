"""From ``promql_parser``'s syntax tree to Vigil's evaluation nodes, once per expression.

Everything that can be settled without data is settled here: the value type of each node, the
matchers (with regexes rewritten for Python, see ``regex``), offsets and ranges in milliseconds,
grouping and matching keys. Anything this evaluator does not implement is refused here with a
``PromQLError`` naming it, so that a rule never evaluates to a silently wrong answer.
"""

from __future__ import annotations

import math
import re
import sys
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import promql_parser as pp

from vigil.metrics.promql import (
    aggregate,
    binary,
    datefuncs,
    extrapolate,
    functions,
    histogram,
    labelfuncs,
    rangefuncs,
    trend,
)
from vigil.metrics.promql.gofloat import MATH_FUNCTIONS
from vigil.metrics.promql.model import (
    AT_END,
    AT_FIXED,
    AT_NONE,
    AT_START,
    NAME,
    Constant,
    Node,
    PromQLError,
    ScalarNode,
    VectorNode,
)
from vigil.metrics.promql.regex import translate
from vigil.metrics.promql.selectors import MatrixSelector, VectorSelector, absent_labels, single_name
from vigil.metrics.promql.subquery import Subquery
from vigil.metrics.series import Matcher, MatchOp

# A compiled sub-expression: a node, a range selector (only valid as a function argument) or a
# string literal (only valid as a parameter).
Compiled = ScalarNode | VectorNode | MatrixSelector | str

# The parser's enums are not hashable: they are looked up by their printed names.
_MATCH_OPS = {
    "MatchOp.Equal": MatchOp.EQUAL,
    "MatchOp.NotEqual": MatchOp.NOT_EQUAL,
    "MatchOp.Re": MatchOp.REGEX,
    "MatchOp.NotRe": MatchOp.NOT_REGEX,
}
# Rules repeat their names and matchers, and the parser makes a new object of each: 10,000 rules
# held `job` 21,000 times and `status=~"5.."` 2,000 times. Names are interned and equal matchers
# are one object (of a bounded number).
_matcher = lru_cache(maxsize=16_384)(Matcher)
_CARDINALITY = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}


def _ms(delta: timedelta | None) -> int:
    return 0 if delta is None else delta // timedelta(milliseconds=1)


# The Rust parser recurses on the machine stack and crashes the whole process (a segfault, not an
# exception) at a few thousand nested operators; Prometheus' Go stacks grow instead. Real rules
# have a few dozen; 256 also keeps this module's own recursion far from Python's limit.
MAX_OPERATORS = 256
_STRING = r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`[^`]*`'
_SKIPPED = re.compile(rf"{_STRING}|#[^\n]*|\{{(?:{_STRING}|[^}}\"'`])*\}}")  # strings, comments, {…}
_OPERATORS = re.compile(r"[-(+*/%^<>=!]|\b(?:and|or|unless|atan2)\b")
# Prometheus 2.42 calls double exponential smoothing holt_winters; the parser knows only the newer
# name (Prometheus 3's). Both mean the same here.
_RENAMED = re.compile(rf"({_STRING}|#[^\n]*)|\bholt_winters(?=\s*\()")
# The parser reads a negative @ time as 0 (and crashes on reading it back): refused instead.
_NEGATIVE_AT = re.compile(r"@\s*-")


def _operators(text: str) -> int:
    """Parentheses and operators outside strings, comments and label braces: a bound on the depth
    of the syntax tree."""
    return len(_OPERATORS.findall(_SKIPPED.sub(" ", text)))


def parse(text: str) -> Node:
    if _operators(text) > MAX_OPERATORS:
        raise PromQLError(f"expression too complex: more than {MAX_OPERATORS} operators and parentheses")
    if _NEGATIVE_AT.search(_SKIPPED.sub(" ", text)):
        raise PromQLError("unsupported: an @ time before 1970")
    text = _RENAMED.sub(lambda m: m.group(1) or "double_exponential_smoothing", text)
    try:
        tree = pp.parse(text)
    except Exception as err:  # the Rust parser reports every syntax problem as some Exception
        raise PromQLError(f"PromQL syntax error: {err}") from None
    node = _compile(tree)
    if isinstance(node, MatrixSelector):
        raise PromQLError("unsupported: a range vector as the result; wrap it in a function such as rate()")
    if isinstance(node, str):
        raise PromQLError("unsupported: a string as the result")
    return node


def _compile(e: Any) -> Compiled:
    if isinstance(e, pp.ParenExpr):
        return _compile(e.expr)
    if isinstance(e, pp.NumberLiteral):
        return Constant(float(e.val))
    if isinstance(e, pp.StringLiteral):
        return str(e.val)
    if isinstance(e, pp.VectorSelector):
        return VectorSelector(_matchers(e), _ms(e.offset), *_at(e.at))
    if isinstance(e, pp.MatrixSelector):
        vs = e.vector_selector
        return MatrixSelector(_matchers(vs), _ms(vs.offset), _ms(e.range), *_at(vs.at))
    if isinstance(e, pp.SubqueryExpr):
        inner = _vector(_compile(e.expr), "a subquery")
        return Subquery(inner, _ms(e.range), _ms(e.step), _ms(e.offset), *_at(e.at))
    if isinstance(e, pp.UnaryExpr):
        arg = _compile(e.expr)
        if isinstance(arg, ScalarNode):
            return binary.NegateScalar(arg)
        return binary.Negate(_vector(arg, "-"))
    if isinstance(e, pp.Call):
        return _call(sys.intern(str(e.func.name)), [_compile(a) for a in e.args])
    if isinstance(e, pp.AggregateExpr):
        return _aggregate(e)
    if isinstance(e, pp.BinaryExpr):
        return _binary(e)
    raise PromQLError(f"unsupported: {type(e).__name__}")


def _at(at: Any) -> tuple[int, int]:
    """An ``@`` modifier as (kind, ms): see ``model.anchor``."""
    if at is None:
        return AT_NONE, 0
    kind = str(at.type)
    if kind.endswith("Start"):
        return AT_START, 0
    if kind.endswith("End"):
        return AT_END, 0
    return AT_FIXED, _ms(at.at - datetime.fromtimestamp(0, UTC))


def _matchers(vs: Any) -> list[Matcher]:
    if vs.matchers.or_matchers:
        raise PromQLError("unsupported: 'or' inside a label selector")
    out = [_matcher(NAME, MatchOp.EQUAL, sys.intern(str(vs.name)))] if vs.name else []
    for m in vs.matchers.matchers:
        op = _MATCH_OPS[str(m.op)]
        value = str(m.value)
        if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            value = translate(value)
        out.append(_matcher(sys.intern(str(m.name)), op, value))
    return out


def _vector(node: Compiled, where: str) -> VectorNode:
    if not isinstance(node, VectorNode):
        raise PromQLError(f"{where} expects an instant vector")
    return node


def _scalar(node: Compiled, where: str) -> ScalarNode:
    if not isinstance(node, ScalarNode):
        raise PromQLError(f"{where} expects a scalar")
    return node


def _string(node: Compiled, where: str) -> str:
    if not isinstance(node, str):
        raise PromQLError(f"{where} expects a string")
    return node


def _range(node: Compiled, where: str) -> MatrixSelector:
    if not isinstance(node, MatrixSelector):
        raise PromQLError(f"{where} expects a range vector selector")
    return node


def _call(name: str, args: list[Compiled]) -> Compiled:
    where = f"{name}()"
    if name in extrapolate.EXTRAPOLATED:
        selector = _range(args[0], where)
        return extrapolate.ExtrapolatedRate(name, selector, check=not single_name(selector.matchers))
    if name in rangefuncs.RANGE_FUNCTIONS:
        param = _scalar(args[0], where) if name == "quantile_over_time" else None
        selector = _range(args[-1], where)
        keep_name = name == "last_over_time"
        check = not keep_name and not single_name(selector.matchers)
        return rangefuncs.RangeCall(
            rangefuncs.RANGE_FUNCTIONS[name], selector, param, keep_name=keep_name, check=check
        )
    if name in MATH_FUNCTIONS:
        return functions.MathCall(MATH_FUNCTIONS[name], _vector(args[0], where))
    if name == "absent_over_time":
        selector = _range(args[0], where)
        return rangefuncs.AbsentOverTime(selector, absent_labels(selector.matchers))
    if name == "absent":
        arg = _vector(args[0], where)
        # absent() labels its answer from the selector's matchers only when called directly on one
        # (parentheses aside), as createLabelsForAbsentFunction does.
        labels = absent_labels(arg.matchers) if isinstance(arg, VectorSelector) else {}
        return functions.Absent(arg, labels)
    if name in ("clamp", "clamp_min", "clamp_max"):
        arg = _vector(args[0], where)
        bounds = [_scalar(a, where) for a in args[1:]]
        if name == "clamp":
            return functions.Clamp(arg, bounds[0], bounds[1])
        return (
            functions.Clamp(arg, bounds[0], None)
            if name == "clamp_min"
            else functions.Clamp(arg, None, bounds[0])
        )
    if name == "round":
        return functions.Round(_vector(args[0], where), _scalar(args[1], where) if len(args) > 1 else None)
    if name == "histogram_quantile":
        return histogram.HistogramQuantile(_scalar(args[0], where), _vector(args[1], where))
    if name == "time":
        return functions.Time()
    if name == "pi":
        return Constant(math.pi)
    if name in datefuncs.DATE_FUNCTIONS:
        return datefuncs.DateCall(datefuncs.DATE_FUNCTIONS[name], _vector(args[0], where) if args else None)
    if name == "timestamp":
        return datefuncs.Timestamp(_vector(args[0], where))
    if name == "predict_linear":
        return trend.TrendCall(_range(args[0], where), _scalar(args[1], where), None)
    if name in ("double_exponential_smoothing", "holt_winters"):
        return trend.TrendCall(_range(args[0], where), _scalar(args[1], where), _scalar(args[2], where))
    if name == "label_replace":
        dst, replacement, src, pattern = (_string(a, where) for a in args[1:5])
        return labelfuncs.LabelReplace(_vector(args[0], where), dst, replacement, src, pattern)
    if name == "label_join":
        dst, separator, *sources = (_string(a, where) for a in args[1:])
        return labelfuncs.LabelJoin(_vector(args[0], where), dst, separator, sources)
    if name == "scalar":
        return functions.ScalarOf(_vector(args[0], where))
    if name == "vector":
        return functions.VectorOf(_scalar(args[0], where))
    if name in ("sort", "sort_desc"):
        return labelfuncs.Sort(_vector(args[0], where), descending=name == "sort_desc")
    raise PromQLError(f"unsupported function '{name}'")


def _aggregate(e: Any) -> Compiled:
    op = sys.intern(str(e.op))
    if op == "count_values":
        return _count_values(e)
    if op not in aggregate.AGGREGATIONS:
        raise PromQLError(f"unsupported aggregation '{op}'")
    where = f"{op}()"
    arg = _vector(_compile(e.expr), where)
    param = _scalar(_compile(e.param), where) if e.param is not None else None
    if op in ("topk", "bottomk", "quantile") and param is None:
        raise PromQLError(f"{where} needs a parameter")
    without, labels = _grouping(e)
    return aggregate.Aggregate(op, arg, labels, without, param)


def _grouping(e: Any) -> tuple[bool, list[str]]:
    """An aggregation's ``without`` (True) or ``by`` and its labels."""
    modifier = e.modifier
    without = modifier is not None and modifier.type == pp.AggModifierType.Without
    return without, [sys.intern(str(label)) for label in modifier.labels] if modifier is not None else []


def _count_values(e: Any) -> Compiled:
    where = "count_values()"
    arg = _vector(_compile(e.expr), where)
    label = _string(_compile(e.param), where)
    without, labels = _grouping(e)
    # The value's label is one more grouping label, unless the others are named by `without`.
    grouping = aggregate.grouping(labels if without else [*labels, label], without)
    return labelfuncs.CountValues(arg, label, grouping)


def _binary(e: Any) -> Compiled:
    op = sys.intern(str(e.op))
    lhs, rhs = _compile(e.lhs), _compile(e.rhs)
    modifier = e.modifier
    return_bool = bool(modifier is not None and modifier.return_bool)
    if modifier is not None and (
        modifier.fill_values.lhs is not None or modifier.fill_values.rhs is not None
    ):
        raise PromQLError("unsupported: fill() in vector matching")
    if op not in binary.ARITHMETIC and op not in binary.COMPARISONS and op not in binary.SET_OPERATORS:
        raise PromQLError(f"unsupported operator '{op}'")
    if isinstance(lhs, ScalarNode) and isinstance(rhs, ScalarNode):
        return binary.ScalarBinary(op, lhs, rhs)
    if isinstance(lhs, ScalarNode):
        return binary.VectorScalar(op, _vector(rhs, op), lhs, scalar_left=True, return_bool=return_bool)
    if isinstance(rhs, ScalarNode):
        return binary.VectorScalar(op, _vector(lhs, op), rhs, scalar_left=False, return_bool=return_bool)
    left, right = _vector(lhs, op), _vector(rhs, op)
    matching = modifier.matching if modifier is not None else None
    on = matching is not None and matching.type == pp.LabelModifierType.Include
    names = [sys.intern(str(n)) for n in matching.labels] if matching is not None else []
    if op in binary.SET_OPERATORS:
        return binary.SetOperation(op, left, right, binary.signature(on, names))
    card = _CARDINALITY[str(modifier.card)] if modifier is not None else "one-to-one"
    include = [sys.intern(str(n)) for n in (modifier.group_labels or [])] if modifier is not None else []
    return binary.VectorVector(
        op, left, right, on=on, matching=names, card=card, include=include, return_bool=return_bool
    )
