"""Aggregations: ``sum``, ``avg``, ``min``, ``max``, ``count``, ``group``, ``stddev``, ``stdvar``,
``quantile``, ``topk`` and ``bottomk``, with ``by`` or ``without``. A port of ``aggregation`` in
Prometheus 2.42's ``promql/engine.go``: same accumulation order, same NaN and Inf rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from functools import cmp_to_key, lru_cache

from vigil.metrics.promql.gofloat import quantile
from vigil.metrics.promql.model import (
    NAME,
    EvalContext,
    Labels,
    PromQLError,
    ScalarNode,
    Vec,
    VectorNode,
    node_key,
    param_key,
)

AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile", "topk", "bottomk"}
)
INT64_MAX = 2.0**63


def grouping(
    labels: Sequence[str], without: bool
) -> tuple[Callable[[Labels], Hashable], Callable[[Labels], Labels]]:
    """The group key of a series and the labels its group's result carries. ``without`` always
    drops ``__name__`` too; ``by`` keeps only the listed labels (a missing one counts as empty).
    Aggregations that group alike share the pair (rules repeat ``by (job)`` thousands of times)."""
    return _grouping(tuple(labels), without)


@lru_cache(maxsize=4096)
def _grouping(
    labels: tuple[str, ...], without: bool
) -> tuple[Callable[[Labels], Hashable], Callable[[Labels], Labels]]:
    if without:
        dropped = frozenset(labels) | {NAME}
        return (
            lambda ls: frozenset((k, v) for k, v in ls.items() if v and k not in dropped),
            lambda ls: {k: v for k, v in ls.items() if k not in dropped},
        )
    kept = tuple(sorted(set(labels)))
    if not kept:
        return (lambda ls: ()), (lambda ls: {})
    if len(kept) == 1:
        only = kept[0]
        return (lambda ls: ls.get(only, "")), (lambda ls: {only: ls[only]} if ls.get(only) else {})
    return (
        lambda ls: tuple([ls.get(name, "") for name in kept]),
        lambda ls: {name: ls[name] for name in kept if ls.get(name)},
    )


class Aggregate(VectorNode):
    __slots__ = ("arg", "group_key", "key", "op", "param", "result_labels")

    def __init__(
        self, op: str, arg: VectorNode, labels: Sequence[str], without: bool, param: ScalarNode | None
    ) -> None:
        self.op = op
        self.arg = arg
        self.param = param
        self.group_key, self.result_labels = grouping(labels, without)
        shown = param_key(param)
        grouped = f"{'without' if without else 'by'}({','.join(sorted(set(labels)))})"
        self.key = node_key(
            None if arg.key is None or shown is None else f"{op}({shown}){grouped}({arg.key})"
        )

    def compute(self, ctx: EvalContext) -> Vec:
        param = self.param.scalar(ctx) if self.param is not None else 0.0
        vec = self.arg.vector(ctx)
        op, key = self.op, self.group_key
        if op in ("topk", "bottomk"):
            return _select_k(vec, key, param, top=op == "topk")
        if op == "quantile":
            values: dict[Hashable, tuple[Labels, list[float]]] = {}
            for labels, v in vec:
                found = values.get(key(labels))
                if found is None:
                    values[key(labels)] = (labels, [v])
                else:
                    found[1].append(v)
            return [(self.result_labels(first), quantile(param, vs)) for first, vs in values.values()]
        if op == "sum":
            return self._sum(vec)
        groups: dict[Hashable, Group] = {}
        step = STEPS[op]
        for labels, v in vec:
            k = key(labels)
            group = groups.get(k)
            if group is None:
                groups[k] = Group(labels, v)
            else:
                step(group, v)
        finish = FINISH.get(op)
        result = self.result_labels
        if finish is None:
            return [(result(g.labels), g.value) for g in groups.values()]
        return [(result(g.labels), finish(g)) for g in groups.values()]

    def _sum(self, vec: Vec) -> Vec:
        """``sum``, the aggregation of nearly every rule, without a group object and a call per
        series; the same additions in the same order as the general path."""
        key = self.group_key
        totals: dict[Hashable, float] = {}
        firsts: dict[Hashable, Labels] = {}
        for labels, v in vec:
            k = key(labels)
            if k in totals:
                totals[k] += v
            else:
                totals[k] = v
                firsts[k] = labels
        result = self.result_labels
        return [(result(firsts[k]), total) for k, total in totals.items()]


class Group:
    """One group's running state; ``labels`` are its first series', which its result is named from."""

    __slots__ = ("count", "labels", "mean", "value")

    def __init__(self, labels: Labels, value: float) -> None:
        self.labels = labels
        self.value = value
        self.mean = value
        self.count = 1


def _sum(g: Group, v: float) -> None:
    g.value += v


def _max(g: Group, v: float) -> None:
    if g.value < v or math.isnan(g.value):  # a NaN is replaced by any later value
        g.value = v


def _min(g: Group, v: float) -> None:
    if g.value > v or math.isnan(g.value):
        g.value = v


def _count(g: Group, v: float) -> None:
    g.count += 1


def _avg(g: Group, v: float) -> None:
    g.count += 1
    mean = g.mean
    if math.isinf(mean):
        if math.isinf(v) and (mean > 0) == (v > 0):
            return  # Inf and Inf of the same sign: the mean is already right
        if not math.isinf(v) and not math.isnan(v):
            return  # a finite value cannot move an infinite mean (Inf - Inf would be NaN)
    # Each term divided first, as Prometheus does, to keep large values from overflowing.
    g.mean = mean + (v / g.count - mean / g.count)


def _variance(g: Group, v: float) -> None:
    if g.count == 1:
        g.value = 0.0  # the first sample seeded value with itself; the sum of squares starts at 0
    g.count += 1
    delta = v - g.mean
    g.mean += delta / g.count
    g.value += delta * (v - g.mean)


def _group(g: Group, v: float) -> None:
    pass


STEPS: dict[str, Callable[[Group, float], None]] = {
    "sum": _sum,
    "max": _max,
    "min": _min,
    "count": _count,
    "avg": _avg,
    "stddev": _variance,
    "stdvar": _variance,
    "group": _group,
}


def _stdvar(g: Group) -> float:
    return 0.0 if g.count == 1 else g.value / g.count


FINISH: dict[str, Callable[[Group], float]] = {
    "count": lambda g: float(g.count),
    "avg": lambda g: g.mean,
    "group": lambda g: 1.0,
    "stdvar": _stdvar,
    "stddev": lambda g: math.sqrt(_stdvar(g)),
}


# topk and bottomk keep each group's k best in a heap exactly as Go's container/heap does, so
# that among equal values the same series win as in Prometheus, given the same input order.
Entry = tuple[Labels, float]


def _heap_up(h: list[Entry], j: int, less: Callable[[float, float], bool]) -> None:
    while j > 0:
        i = (j - 1) // 2
        if not less(h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _heap_down(h: list[Entry], n: int, less: Callable[[float, float], bool]) -> None:
    i = 0
    while True:
        j = 2 * i + 1
        if j >= n:
            break
        if j + 1 < n and less(h[j + 1][1], h[j][1]):
            j += 1
        if not less(h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        i = j


def _top_less(a: float, b: float) -> bool:
    return math.isnan(a) or a < b  # vectorByValueHeap: NaN sorts lowest


def _bottom_less(a: float, b: float) -> bool:
    return math.isnan(a) or a > b  # vectorByReverseValueHeap


def _select_k(vec: Vec, key: Callable[[Labels], Hashable], param: float, *, top: bool) -> Vec:
    if not -INT64_MAX <= param < INT64_MAX:  # also NaN
        raise PromQLError(f"Scalar value {param} overflows int64")
    k = int(param)
    if k < 1:
        return []
    less = _top_less if top else _bottom_less
    # Among equal values the winners depend on the order series arrive in. Prometheus 2.42 reads
    # them unsorted, in the order its head created them, and keeps that order through functions,
    # operators and aggregations; so does Vigil with its source's order (the store's is creation
    # order too), rather than impose one of its own.
    heaps: dict[Hashable, list[Entry]] = {}
    for labels, v in vec:
        g = key(labels)
        heap = heaps.get(g)
        if heap is None:
            heaps[g] = [(labels, v)]
            continue
        worst = heap[0][1]
        if len(heap) < k or less(worst, v):
            if len(heap) == k:
                if k == 1:
                    heap[0] = (labels, v)
                    continue
                last = len(heap) - 1
                heap[0], heap[last] = heap[last], heap[0]
                _heap_down(heap, last, less)
                heap.pop()
            heap.append((labels, v))
            _heap_up(heap, len(heap) - 1, less)

    # Each group's series best first (Prometheus sorts the heap in reverse), NaN last.
    def worse(a: Entry, b: Entry) -> int:
        return -1 if less(b[1], a[1]) else 1 if less(a[1], b[1]) else 0

    out: Vec = []
    for heap in heaps.values():
        out.extend(sorted(heap, key=cmp_to_key(worse)))
    return out
