"""Rules evaluated by Vigil itself: one cycle's rules share results, and only within the cycle."""

from __future__ import annotations

import gc

from vigil.alerting.local import LocalQuery, shared_keys
from vigil.config.alerts import AlertRule
from vigil.metrics.store import SeriesStore


def _rule(name: str, expr: str) -> AlertRule:
    return AlertRule.model_validate({"name": name, "expr": expr, "severity": "P2"})


async def test_a_cycle_shares_results_at_its_time_and_sees_new_samples_in_the_next() -> None:
    store = SeriesStore()
    store.append({"__name__": "queue_depth", "queue": "q"}, 100.0, 5.0)
    rules = [_rule("Deep", "max(queue_depth) > 1"), _rule("Deeper", "max(queue_depth) > 3")]
    query = LocalQuery(rules, store)
    with query.cycle():
        assert gc.isenabled() is False  # paused while shared results pile up
        assert [v for _, v in await query(rules[0], 110.0)] == [5.0]
        store.append({"__name__": "queue_depth", "queue": "q"}, 105.0, 9.0)
        # The same time in the same cycle: the shared max(queue_depth) from before the write.
        assert [v for _, v in await query(rules[1], 110.0)] == [5.0]
        # Another time is another set of results.
        assert [v for _, v in await query(rules[1], 111.0)] == [9.0]
    assert gc.isenabled() is True
    with query.cycle():
        assert [v for _, v in await query(rules[0], 111.0)] == [9.0]
    # Outside a cycle nothing is shared.
    store.append({"__name__": "queue_depth", "queue": "q"}, 106.0, 2.0)
    assert [v for _, v in await query(rules[0], 111.0)] == [2.0]


async def test_a_cycle_leaves_a_paused_collector_paused() -> None:
    query = LocalQuery([], SeriesStore())
    gc.disable()
    try:
        with query.cycle():
            pass
        assert gc.isenabled() is False
    finally:
        gc.enable()


async def test_a_shared_result_is_let_go_once_the_last_rule_reading_it_has_run() -> None:
    store = SeriesStore()
    store.append({"__name__": "queue_depth", "queue": "q"}, 100.0, 5.0)
    rules = [
        _rule("Deep", "max(queue_depth) > 1"),
        _rule("Busy", "sum(queue_depth) > 0"),
        _rule("Deeper", "max(queue_depth) > 3"),
    ]
    query = LocalQuery(rules, store)
    [shared_max] = [k for k in shared_keys(query.compiled["max(queue_depth) > 1"].root) if "max" in k]
    with query.cycle():
        assert [v for _, v in await query(rules[0], 110.0)] == [5.0]
        held = query._shared  # the cycle's shared results (private: what this test is about)
        assert held is not None and shared_max in held  # "Deeper" reads it later
        await query(rules[1], 110.0)
        assert not any("sum" in key for key in held)  # sum(…) had one reader: gone already
        assert [v for _, v in await query(rules[2], 110.0)] == [5.0]
        assert not held  # the last reader has run
        # A rule run again in the same cycle computes its result again, the same.
        assert [v for _, v in await query(rules[2], 110.0)] == [5.0]


def test_the_shared_keys_of_an_expression_are_those_of_its_parts_at_its_own_time() -> None:
    expr = "sum by (job) (rate(a[5m])) / sum by (job) (rate(b[5m])) > 0.05"
    keys = shared_keys(LocalQuery([_rule("Ratio", expr)], SeriesStore()).compiled[expr].root)
    assert len(keys) >= 4  # two rates and two sums at least
    assert any("a" in key and "sum" in key for key in keys) and any("b" in key for key in keys)
    # Inside a subquery nothing is evaluated at the rule's own time: the subquery alone is shared.
    inner = "max_over_time(rate(a[5m])[30m:1m]) > 1"
    [key] = shared_keys(LocalQuery([_rule("Sub", inner)], SeriesStore()).compiled[inner].root)
    assert key.startswith("_max_over_time")
