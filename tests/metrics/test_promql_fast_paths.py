"""What makes a rule cycle fast must not change an answer: windows the store vouches for (no NaN,
no drop) skip per-sample loops, and the rules of one cycle share common sub-expressions."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

import pytest

from vigil.metrics import chunks
from vigil.metrics.heads import MAX_MARKS
from vigil.metrics.promql import Sample, compile_expr, evaluate
from vigil.metrics.promql.model import Vec
from vigil.metrics.series import STALE_NAN, Matcher, MatchOp, SeriesData, SeriesEdges
from vigil.metrics.store import SeriesStore

B = 1_700_000_000.0
STEP = 15.0


class Unvouched:
    """The store's series with nothing vouched for, as any other source would return them."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store
        self.selects = 0

    def select(
        self, matchers: Sequence[Matcher], start: float, end: float, *, named: bool = True
    ) -> Iterable[SeriesData]:
        self.selects += 1
        return [SeriesData(s.labels, s.timestamps, s.values) for s in self.store.select(matchers, start, end)]

    def select_edges(
        self, matchers: Sequence[Matcher], start: float, end: float
    ) -> Iterable[SeriesData | SeriesEdges]:
        return self.select(matchers, start, end, named=False)


def _random_store(seed: int, length: int = 60) -> SeriesStore:
    rng = random.Random(seed)
    store = SeriesStore(retention=10**9)
    for i in range(40):
        kind = ("counter", "gauge", "odd")[i % 3]
        labels = {"__name__": f"m_{kind}", "job": f"j{i % 4}", "i": str(i)}
        value = rng.uniform(0, 100)
        for n in range(length):
            if kind == "counter":
                value = 0.0 if rng.random() < 0.05 else value + rng.uniform(0, 10)
            else:
                value = rng.uniform(-50, 50)
            if kind == "odd":  # NaNs, infinities and stale markers now and then
                value = rng.choice([value, value, value, math.nan, math.inf, -math.inf, STALE_NAN])
            store.append(labels, B + n * STEP, value)
    return store


EXPRESSIONS = [
    f"{fn}({metric}[{window}])"
    for fn in (
        "rate",
        "increase",
        "delta",
        "irate",
        "resets",
        "changes",
        "avg_over_time",
        "sum_over_time",
        "min_over_time",
        "max_over_time",
        "count_over_time",
        "stddev_over_time",
        "last_over_time",
    )
    for metric in ("m_counter", "m_gauge", "m_odd")
    for window in ("1m", "5m", "15m")
] + [
    'sum by (job) (rate(m_counter{job=~"j[01]"}[5m]))',
    "sum by (job) (rate(m_counter[5m])) / sum by (job) (rate(m_counter[10m]))",
    "max by (job) (avg_over_time(m_gauge[5m])) > 0",
    "quantile_over_time(0.9, m_gauge[5m])",
    "count(m_odd)",
]


def _same(a: list[Sample], b: list[Sample]) -> bool:
    def key(samples: list[Sample]) -> dict[frozenset[tuple[str, str]], float]:
        return {frozenset(s.labels.items()): s.value for s in samples}

    left, right = key(a), key(b)
    if left.keys() != right.keys():
        return False
    for k, x in left.items():
        y = right[k]
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
        elif not (x == y or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)):
            return False
    return True


@pytest.mark.parametrize(("seed", "length"), [(1, 60), (2, 60), (3, 60), (4, 400)])
def test_vouched_windows_give_the_answers_of_the_per_sample_loops(seed: int, length: int) -> None:
    store = _random_store(seed, length)  # 400 samples: chunks too, not the heads alone
    plain = Unvouched(store)
    for expr in EXPRESSIONS:
        compiled = compile_expr(expr)
        last = B + (length - 1) * STEP
        for at in (B + 120, B + 450, last - 2000, last, last + 7):
            fast, slow = evaluate(compiled, at, store), evaluate(compiled, at, plain)
            assert isinstance(fast, list) and isinstance(slow, list)
            assert _same(fast, slow), f"{expr} at {at - B}: {fast} != {slow}"


def test_rate_over_chunks_whole_in_its_window_reads_their_headers_alone() -> None:
    store = SeriesStore(retention=10**9)
    rng = random.Random(7)  # values no other test writes: chunks are cached by their bytes
    times = [B + STEP * i for i in range(480)]
    store.extend({"__name__": "c_total"}, times, [float(i) + rng.random() for i in range(480)])
    [ref] = store.held()
    assert len(ref.chunks) >= 3
    at = times[-1]
    answers = []
    for cut in (1, 0):
        first, _ = chunks.bounds(ref.chunks[cut])
        window = round((at - first + STEP / 2) * 1000)  # from between two chunks: each whole or out
        expr = compile_expr(f"increase(c_total[{window}ms])")
        answers.append((expr, evaluate(expr, at, store)))
    assert not any(chunk in chunks.RECENT for chunk in ref.chunks)
    for expr, got in answers:
        assert len(got) == 1 and _same(got, evaluate(expr, at, Unvouched(store)))  # which decodes all
    # A window from inside a chunk decodes that one alone.
    first, last = chunks.bounds(ref.chunks[-1])
    expr = compile_expr(f"rate(c_total[{round((at - (first + last) / 2) * 1000)}ms])")
    fresh = SeriesStore(retention=10**9)
    fresh.extend({"__name__": "c_total"}, times, [float(i) + rng.random() for i in range(480)])
    [again] = fresh.held()
    got = evaluate(expr, at, fresh)
    assert len(got) == 1
    assert [chunk in chunks.RECENT for chunk in again.chunks] == [False] * (len(again.chunks) - 1) + [True]
    assert _same(got, evaluate(expr, at, Unvouched(fresh)))


def _flags(store: SeriesStore, name: str, start: float, end: float) -> tuple[bool, bool]:
    [series] = store.select([Matcher("__name__", MatchOp.EQUAL, name)], start, end)
    return series.nan_free, series.monotonic


def test_the_store_vouches_only_for_windows_without_nan_or_drop() -> None:
    store = SeriesStore(retention=100.0)
    for t, v in [(10, 1.0), (20, 5.0), (30, 2.0), (40, 3.0), (50, math.nan), (60, 4.0)]:
        store.append({"__name__": "c"}, float(t), v)
    assert _flags(store, "c", 0, 25) == (True, True)
    assert _flags(store, "c", 0, 35) == (True, False)  # 5 -> 2 is a drop
    # A drop at the window's first sample compares with a sample outside it: no reset inside.
    assert _flags(store, "c", 25, 45) == (True, True)
    assert _flags(store, "c", 25, 55) == (False, True)
    assert _flags(store, "c", 55, 65) == (True, True)


def test_marks_leave_with_their_samples_so_a_long_lived_counter_stays_vouched_for() -> None:
    store = SeriesStore(retention=50.0)
    for t in range(1, 1001):  # a reset every 12 samples: over 80 in all, 5 within retention
        store.append({"__name__": "c"}, float(t), float(t % 12))
        if t % 10 == 0:
            store.prune(float(t))
            assert _flags(store, "c", t - 5.5, t) == (True, t % 12 >= 5), t


def test_bulk_and_one_by_one_writes_note_the_same_marks() -> None:
    rng = random.Random(7)
    times = [float(t) for t in range(1, 201)]
    values = [rng.choice([rng.uniform(0, 9), math.nan]) if rng.random() < 0.1 else float(t) for t in times]
    one, bulk = SeriesStore(retention=10**9), SeriesStore(retention=10**9)
    for t, v in zip(times, values, strict=True):
        one.append({"__name__": "x"}, t, v)
    bulk.extend({"__name__": "x"}, times[:77], values[:77])
    bulk.extend({"__name__": "x"}, times[77:], values[77:])
    for start in range(0, 200, 7):
        for width in (5, 20, 60):
            assert _flags(one, "x", start, start + width) == _flags(bulk, "x", start, start + width)


def test_a_series_that_drops_often_is_never_vouched_for() -> None:
    store = SeriesStore()
    for i in range(2 * MAX_MARKS + 4):
        store.append({"__name__": "g"}, float(i), float(i % 2))  # 0 1 0 1 ...: a drop every other sample
        store.append({"__name__": "few"}, float(i), float(i % 2) if i < 4 else float(i))
    # One sample, no drop: vouched for while the drops are few enough to note, not once they are not.
    assert _flags(store, "few", 0.5, 1.5) == (True, True)
    assert _flags(store, "g", 0.5, 1.5) == (True, False)


def test_the_rules_of_a_cycle_compute_a_common_sub_expression_once() -> None:
    source = Unvouched(_random_store(4))
    exprs = [
        "sum by (job) (rate(m_counter[5m]))",
        "max by (job) (rate(m_counter[5m]))",
        "sum by (job) (rate(m_counter[5m])) / sum by (job) (rate(m_counter[10m]))",
        "rate(m_counter[5m]) > 0.1",
    ]
    at = B + 50 * STEP
    alone = []
    for expr in exprs:
        result = evaluate(compile_expr(expr), at, source)
        assert isinstance(result, list)
        alone.append(result)
    selects_alone = source.selects
    source.selects = 0
    shared: dict[str, Vec] = {}
    for expr, expected in zip(exprs, alone, strict=True):
        result = evaluate(compile_expr(expr), at, source, shared=shared)
        assert isinstance(result, list) and _same(result, expected), expr
    # rate(m_counter[5m]) and rate(m_counter[10m]): two selections instead of five.
    assert (selects_alone, source.selects) == (5, 2)
    # Results are the caller's own: changing one changes no other rule's.
    first = evaluate(compile_expr("rate(m_counter[5m])"), at, source, shared=shared)
    second = evaluate(compile_expr("rate(m_counter[5m])"), at, source, shared=shared)
    assert isinstance(first, list) and isinstance(second, list)
    first[0].labels["job"] = "changed"
    assert second[0].labels["job"] != "changed"


def test_sub_expressions_that_differ_in_anything_are_not_shared() -> None:
    store = _random_store(5)
    shared: dict[str, Vec] = {}
    at = B + 50 * STEP
    pairs = [
        ("rate(m_counter[5m])", "rate(m_counter[5m] offset 1m)"),
        ("rate(m_counter[5m])", "increase(m_counter[5m])"),
        ('sum by (job) (m_gauge{job="j1"})', 'sum by (job) (m_gauge{job="j2"})'),
        ("sum by (job) (m_gauge)", "sum without (job) (m_gauge)"),
        ("topk(1, m_gauge)", "topk(2, m_gauge)"),
        ("quantile_over_time(0.5, m_gauge[5m])", "quantile_over_time(0.9, m_gauge[5m])"),
    ]
    for a, b in pairs:
        for expr in (a, b):
            expected = evaluate(compile_expr(expr), at, store)
            got = evaluate(compile_expr(expr), at, store, shared=shared)
            assert isinstance(got, list) and isinstance(expected, list)
            assert _same(got, expected), expr
