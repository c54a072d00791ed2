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
from vigil.metrics.promql.model import Labels, Vec, VectorNode
from vigil.metrics.promql.sweep import Column, arguments, swept

SWEPT_OPS = frozenset({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"})


@dataclass
class SweepPlan:
    """What a range query sweeps: the aggregations of swept functions, and the keys of the swept
    functions whose per-step vectors something else reads."""

    aggregates: list[Aggregate] = field(default_factory=list)
    per_step: set[str] = field(default_factory=set)


def plan(root: VectorNode) -> SweepPlan:
    found = SweepPlan()
    aggregates: dict[str, Aggregate] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        if type(node) is Aggregate and node.key is not None and _sweepable(node):
            aggregates.setdefault(node.key, node)
            continue
        leaf = swept(node)
        if leaf is not None:
            if leaf.key is not None:
                found.per_step.add(leaf.key)
        else:
            pending += arguments(node)
    found.aggregates = list(aggregates.values())
    return found


def _sweepable(node: Aggregate) -> bool:
    return node.op in SWEPT_OPS and node.param is None and swept(node.arg) is not None


def aggregate_columns(node: Aggregate, columns: Sequence[Column], count: int) -> list[Vec]:
    """``node`` at each of ``count`` steps over its argument's ``columns`` (in the source's order)."""
    key = node.group_key
    groups: dict[Hashable, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(key(column.labels), []).append(i)
    results: list[list[float]] = []
    names: list[Labels] = []
    present: list[list[int]] = []
    group_of = [0] * len(columns)
    for g, members in enumerate(groups.values()):
        names.append(node.result_labels(columns[members[0]].labels))
        values, first = _fold(node.op, columns, members, count)
        results.append(values)
        present.append(first)
        for i in members:
            group_of[i] = g
    # A step lists each group where the column that opens it there comes (the per-step order).
    vecs: list[Vec] = [[] for _ in range(count)]
    for i, column in enumerate(columns):
        g = group_of[i]
        first, values, labels = present[g], results[g], names[g]
        steps = column.steps
        for j in range(len(steps)):
            k = steps[j]
            if first[k] == i:
                vecs[k].append((labels, values[k]))
    return vecs


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
