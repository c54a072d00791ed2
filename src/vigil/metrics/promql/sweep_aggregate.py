"""Aggregations swept across the steps of a range query: in ``sum by (path) (rate(x[5m]))`` the
swept ``rate`` columns are put in their groups once, and each group's columns are added up step by
step, instead of every step grouping every series again (a dict look-up and a key per point).

The results are those of the per-step path (``Aggregate``) to the last bit: at each step a group
takes its members' values in the order the step's vector would list them (the columns' order), with
the same accumulation functions, and the step's groups come in the order the per-step path would
first meet them. Only the aggregations without a parameter are swept (``topk``, ``bottomk`` and
``quantile`` are computed per step).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from vigil.metrics.promql.aggregate import FINISH, STEPS, Aggregate, Group
from vigil.metrics.promql.histogram import HistogramQuantile
from vigil.metrics.promql.model import Constant, Vec, VectorNode
from vigil.metrics.promql.sweep import Column, Stepped, arguments, in_step_order, swept

SWEPT_OPS = frozenset({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"})


@dataclass
class SweepPlan:
    """What a range query sweeps: the aggregations of swept functions, the ``histogram_quantile``s
    of those or of swept functions, and the keys of the swept nodes whose per-step vectors
    something else reads (a swept histogram reads its argument's columns, not its vectors)."""

    aggregates: list[Aggregate] = field(default_factory=list)
    histograms: list[HistogramQuantile] = field(default_factory=list)
    per_step: set[str] = field(default_factory=set)


def plan(root: VectorNode) -> SweepPlan:
    found = SweepPlan()
    aggregates: dict[str, Aggregate] = {}
    histograms: dict[str, HistogramQuantile] = {}
    pending: list[tuple[VectorNode, bool]] = [(root, True)]  # a node, and whether it is read per step
    while pending:
        node, read = pending.pop()
        if type(node) is HistogramQuantile and node.key is not None and _sweeps_histogram(node):
            histograms.setdefault(node.key, node)
            found.per_step.add(node.key)
            pending.append((node.arg, False))
            continue
        if type(node) is Aggregate and node.key is not None and _sweepable(node):
            aggregates.setdefault(node.key, node)
            if read:
                found.per_step.add(node.key)
            continue
        leaf = swept(node)
        if leaf is not None:
            if leaf.key is not None and read:
                found.per_step.add(leaf.key)
        else:
            pending += [(arg, True) for arg in arguments(node)]
    found.aggregates = list(aggregates.values())
    found.histograms = list(histograms.values())
    return found


def _sweepable(node: Aggregate) -> bool:
    return node.op in SWEPT_OPS and node.param is None and swept(node.arg) is not None


def _sweeps_histogram(node: HistogramQuantile) -> bool:
    """A literal quantile of a swept aggregation or function."""
    if type(node.q) is not Constant:
        return False
    arg = node.arg
    return (type(arg) is Aggregate and arg.key is not None and _sweepable(arg)) or swept(arg) is not None


def fold(node: Aggregate, columns: Sequence[Column], count: int) -> tuple[list[Stepped], list[int]]:
    """``node``'s groups at each of ``count`` steps over its argument's ``columns`` (in the source's
    order), each placed at a step by the column that opens it there, and each column's group."""
    key = node.group_key
    groups: dict[Hashable, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(key(column.labels), []).append(i)
    folded: list[Stepped] = []
    group_of = [0] * len(columns)
    for g, members in enumerate(groups.values()):
        values, first = _fold(node.op, columns, members, count)
        folded.append(Stepped(node.result_labels(columns[members[0]].labels), values, first))
        for i in members:
            group_of[i] = g
    return folded, group_of


def aggregate_columns(node: Aggregate, columns: Sequence[Column], count: int) -> list[Vec]:
    """``node`` at each of ``count`` steps over its argument's ``columns`` (in the source's order)."""
    folded, group_of = fold(node, columns, count)
    return in_step_order(folded, group_of, columns, count)


def _fold(
    op: str, columns: Sequence[Column], members: list[int], count: int
) -> tuple[list[float], list[int]]:
    """One group's value at each step, and the member that opened it there (-1: none)."""
    first = [-1] * count
    if op == "sum":
        totals = [0.0] * count
        for i in members:
            column = columns[i]
            steps, values = column.steps, column.values
            for j in range(len(steps)):
                k = steps[j]
                if first[k] >= 0:
                    totals[k] += values[j]
                else:
                    totals[k] = values[j]
                    first[k] = i
        return totals, first
    step = STEPS[op]
    states: list[Group | None] = [None] * count
    for i in members:
        column = columns[i]
        steps, values = column.steps, column.values
        for j in range(len(steps)):
            k = steps[j]
            state = states[k]
            if state is None:
                states[k] = Group(column.labels, values[j])
                first[k] = i
            else:
                step(state, values[j])
    finish = FINISH.get(op)
    out = [0.0] * count
    for k in range(count):
        state = states[k]
        if state is not None:
            out[k] = state.value if finish is None else finish(state)
    return out, first
