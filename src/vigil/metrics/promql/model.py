"""What every part of the evaluator shares: the error, the result types and the node interfaces.

A compiled expression is a tree of small node objects built once by ``compile_expr``; evaluating it
walks the tree with an ``EvalContext`` and touches no parser object. Inside the tree an instant
vector is a plain list of ``(labels, value)`` tuples, which costs far less to build than one
dataclass per sample; ``evaluate`` turns the final one into ``Sample``s.
"""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vigil.errors import VigilError
from vigil.metrics.series import Matcher, SeriesSource

NAME = "__name__"

Labels = Mapping[str, str]
Vec = list[tuple[Labels, float]]


class PromQLError(VigilError):
    """An expression that cannot be compiled (bad syntax, an unsupported construct) or evaluated
    (e.g. many-to-many matching); the message names the problem in one line."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant vector: a series' labels and its value at the evaluation time."""

    labels: dict[str, str]
    value: float


Vector = list[Sample]


@dataclass(frozen=True, slots=True)
class EvalContext:
    """One evaluation: the time (integer milliseconds, as Prometheus computes), the samples and the
    instant-selector lookback. ``shared`` holds results of sub-expressions by their ``key``
    for evaluations at the same time over the same samples (the rules of one cycle): a selector or
    ``rate(…)`` that several rules contain is computed once. Results in it are never modified.
    ``start_ms`` and ``end_ms`` are the query's window, what ``@ start()`` and ``@ end()`` mean: for
    an instant query both are its time, for a range query its first and last step."""

    at_ms: int
    source: SeriesSource
    lookback_ms: int
    shared: dict[str, Vec] | None = None
    start_ms: int = 0
    end_ms: int = 0


# What an ``@`` modifier pins a selector or subquery to: nothing (the evaluation time), a fixed
# time, or the query's start or end.
AT_NONE = 0
AT_FIXED = 1
AT_START = 2
AT_END = 3


def anchor(ctx: EvalContext, at_kind: int, at_ms: int) -> int:
    """The time (ms) a selector or subquery with this ``@`` reads at."""
    if at_kind == AT_NONE:
        return ctx.at_ms
    if at_kind == AT_FIXED:
        return at_ms
    return ctx.start_ms if at_kind == AT_START else ctx.end_ms


def at_key(at_kind: int, at_ms: int) -> str:
    return ("", f"@{at_ms}", "@start", "@end")[at_kind]


# The node bases are plain classes with abstract methods, not ``ABC``s: mypyc builds its classes
# without ABCMeta's per-class state, so every compiled ABC would share ``abc.ABC``'s cache of
# answers, and an isinstance() from plain Python (or against a tuple of node types) could take a
# cached "yes" meant for another class.
class ScalarNode:
    __slots__ = ()

    @abstractmethod
    def scalar(self, ctx: EvalContext) -> float: ...


class Constant(ScalarNode):
    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def scalar(self, ctx: EvalContext) -> float:
        return self.value


class VectorNode:
    __slots__ = ()
    # What the node computes, as text: equal keys, equal results at one time over the same samples.
    # None (here) keeps a node out of sharing; shareable kinds set it in a slot of their own.
    key: str | None = None

    def vector(self, ctx: EvalContext) -> Vec:
        """The node's result, from ``ctx.shared`` when another rule of the cycle computed it."""
        shared, key = ctx.shared, self.key
        if shared is None or key is None:
            return self.compute(ctx)
        found = shared.get(key)
        if found is None:
            found = shared[key] = self.compute(ctx)
        return found

    @abstractmethod
    def compute(self, ctx: EvalContext) -> Vec: ...


Node = ScalarNode | VectorNode


def selector_key(matchers: Sequence[Matcher], offset_ms: int, range_ms: int = 0, at: str = "") -> str:
    """A selector in one canonical text, matcher order aside: the base of nodes' ``key``s."""
    inner = ",".join(sorted(f"{m.name}{m.op}{m.value!r}" for m in matchers))
    return sys.intern(f"{{{inner}}}[{range_ms}]@-{offset_ms}{at}")


def node_key(text: str | None) -> str | None:
    """A node's ``key``: one object for equal texts, as the rules that share a sub-expression
    hold its key (and the keys of its parts) many times over."""
    return None if text is None else sys.intern(text)


def param_key(param: ScalarNode | None) -> str | None:
    """A node parameter's part of its ``key``: "" for none, the number for a literal, None (not
    shareable) for anything computed, which is rare."""
    if param is None:
        return ""
    return repr(param.value) if isinstance(param, Constant) else None


def drop_name(labels: Labels) -> Labels:
    """The labels without ``__name__``; the same object when there is none, so that a chain of
    functions copies a series' labels at most once."""
    if NAME not in labels:
        return labels
    return {k: v for k, v in labels.items() if k != NAME}


def several_names(vec: Vec) -> bool:
    """Whether ``vec`` mixes metric names: only then can dropping ``__name__`` make two of its
    (distinct) series equal."""
    if len(vec) < 2:
        return False
    first = vec[0][0].get(NAME)
    return any(labels.get(NAME) != first for labels, _ in vec)


def label_key(labels: Labels) -> frozenset[tuple[str, str]]:
    # Prometheus never stores an empty label value, so a label set to "" is the same as absent.
    return frozenset((k, v) for k, v in labels.items() if v)


def ensure_unique(vec: Vec) -> Vec:
    """Prometheus refuses a result with two equal label sets (e.g. ``rate({__name__=~"a|b"}[1m])``
    when a and b share their other labels); so does Vigil rather than return one of them."""
    if len({label_key(labels) for labels, _ in vec}) != len(vec):
        raise PromQLError("vector cannot contain metrics with the same labelset")
    return vec


def format_labels(labels: Labels) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"
