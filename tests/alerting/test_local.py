"""Rules evaluated by Vigil itself: one cycle's rules share results, and only within the cycle."""

from __future__ import annotations

import gc

from vigil.alerting.local import LocalQuery
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
