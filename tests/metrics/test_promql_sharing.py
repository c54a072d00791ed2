"""Rules repeat names, matchers, groupings and sub-expressions: compiled, they share one object of
each, so that a stack of thousands of rules holds each once (``bench/rules.py`` measures it)."""

from __future__ import annotations

from vigil.alerting.local import shared_keys
from vigil.metrics.promql import compile_expr
from vigil.metrics.promql.aggregate import Aggregate
from vigil.metrics.promql.binary import VectorScalar, VectorVector
from vigil.metrics.promql.extrapolate import ExtrapolatedRate
from vigil.metrics.promql.selectors import MatrixSelector


def _ratio(job: str, limit: float) -> tuple[Aggregate, Aggregate]:
    text = (
        f'sum by (job) (rate(http_requests_total{{job="{job}",status=~"5.."}}[5m]))'
        f' / sum by (job) (rate(http_requests_total{{job="{job}"}}[5m])) > {limit}'
    )
    root = compile_expr(text).root
    assert isinstance(root, VectorScalar) and isinstance(root.vector_node, VectorVector)
    left, right = root.vector_node.lhs, root.vector_node.rhs
    assert isinstance(left, Aggregate) and isinstance(right, Aggregate)
    return left, right


def _selector(node: Aggregate) -> MatrixSelector:
    assert isinstance(node.arg, ExtrapolatedRate)
    return node.arg.selector


def test_two_rules_share_their_matchers_groupings_and_keys() -> None:
    a_left, a_right = _ratio("api", 0.05)
    b_left, b_right = _ratio("api", 0.1)  # another rule over the same job
    c_left, _ = _ratio("web", 0.05)
    assert a_left is not b_left  # two rules, two trees …
    assert a_left.key is b_left.key and a_right.key is b_right.key  # … one key for each part
    assert _selector(a_left).key is _selector(b_left).key
    assert _selector(a_left).matchers == _selector(b_left).matchers
    assert all(x is y for x, y in zip(_selector(a_left).matchers, _selector(b_left).matchers, strict=True))
    # Another job: its own job matcher, but the same name, the same status matcher, one grouping.
    a_matchers, c_matchers = _selector(a_left).matchers, _selector(c_left).matchers
    assert {m.value for m in a_matchers} ^ {m.value for m in c_matchers} == {"api", "web"}
    shared = [m for m in c_matchers if m.value != "web"]
    assert all(any(m is n for n in a_matchers) for m in shared)
    assert a_left.group_key is c_left.group_key and a_left.result_labels is c_left.result_labels


def test_shared_keys_are_the_parts_at_the_rules_time_each_once() -> None:
    left, right = _ratio("api", 0.05)
    root = compile_expr(
        'sum by (job) (rate(http_requests_total{job="api",status=~"5.."}[5m]))'
        ' / sum by (job) (rate(http_requests_total{job="api"}[5m])) > 0.05'
    ).root
    keys = shared_keys(root)
    assert len(keys) == len(set(keys))
    assert left.key in keys and right.key in keys
