"""The in-memory series store: selection by matchers with Prometheus' semantics, time order,
retention, the series bound, stale markers and what a sample costs in memory."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from vigil.engine.clock import FakeClock
from vigil.metrics import matchers
from vigil.metrics.series import STALE_NAN, Matcher, MatchOp, SeriesSource, is_stale
from vigil.metrics.store import SeriesStore

NAME = "__name__"


def requests(status: str, **labels: str) -> dict[str, str]:
    return {NAME: "http_requests_total", "job": "api", "status": status, **labels}


@pytest.fixture
def store() -> SeriesStore:
    store = SeriesStore()
    for labels in (
        requests("200", path="/"),
        requests("500", path="/"),
        requests("503"),
        requests("1500", job="web"),
        {NAME: "up", "job": "api"},
    ):
        store.append(labels, 10.0, 1.0)
    return store


def statuses(store: SeriesStore, *matchers: Matcher) -> set[str]:
    name = Matcher(NAME, MatchOp.EQUAL, "http_requests_total")
    return {series.labels["status"] for series in store.select([name, *matchers], 0.0, 100.0)}


def test_the_store_is_a_series_source_for_the_evaluator(store: SeriesStore) -> None:
    source: SeriesSource = store
    assert len(list(source.select([Matcher("job", MatchOp.EQUAL, "api")], 0.0, 100.0))) == 4


@pytest.mark.parametrize(
    ("label", "op", "value", "expected"),
    [
        ("status", MatchOp.EQUAL, "500", {"500"}),
        ("status", MatchOp.NOT_EQUAL, "500", {"200", "503", "1500"}),
        # Anchored at both ends: "5.." does not match "1500".
        ("status", MatchOp.REGEX, "5..", {"500", "503"}),
        ("status", MatchOp.NOT_REGEX, "5..", {"200", "1500"}),
        ("status", MatchOp.REGEX, "2|5", set()),
        ("status", MatchOp.REGEX, "200|503", {"200", "503"}),
        # A missing label equals "".
        ("path", MatchOp.EQUAL, "", {"503", "1500"}),
        ("path", MatchOp.NOT_EQUAL, "", {"200", "500"}),
        ("path", MatchOp.REGEX, ".*", {"200", "500", "503", "1500"}),
        ("path", MatchOp.REGEX, ".+", {"200", "500"}),
        ("region", MatchOp.NOT_REGEX, "eu.*", {"200", "500", "503", "1500"}),
        ("region", MatchOp.EQUAL, "eu", set()),
    ],
)
def test_matchers_select_as_prometheus_does(
    store: SeriesStore, label: str, op: MatchOp, value: str, expected: set[str]
) -> None:
    assert statuses(store, Matcher(label, op, value)) == expected


def test_every_matcher_must_hold(store: SeriesStore) -> None:
    matchers = (Matcher("job", MatchOp.EQUAL, "api"), Matcher("status", MatchOp.REGEX, "5.."))
    assert statuses(store, *matchers) == {"500", "503"}


def test_a_selector_without_a_metric_name_looks_at_every_metric(store: SeriesStore) -> None:
    found = store.select([Matcher("job", MatchOp.EQUAL, "api")], 0.0, 100.0)
    assert sorted(series.labels[NAME] for series in found) == ["http_requests_total"] * 3 + ["up"]


def test_the_metric_name_can_be_matched_by_regex(store: SeriesStore) -> None:
    found = store.select([Matcher(NAME, MatchOp.REGEX, "u.")], 0.0, 100.0)
    assert [dict(series.labels) for series in found] == [{NAME: "up", "job": "api"}]


def test_only_samples_after_start_and_up_to_end_are_returned() -> None:
    store = SeriesStore()
    for t in (10.0, 20.0, 30.0, 40.0):
        store.append({NAME: "m"}, t, t / 10)
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 10.0, 30.0)
    assert (list(series.timestamps), list(series.values)) == ([20.0, 30.0], [2.0, 3.0])
    assert store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 40.0, 50.0) == []


def test_selected_samples_do_not_change_when_more_arrive() -> None:
    store = SeriesStore()
    store.append({NAME: "m"}, 1.0, 1.0)
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 0.0, 10.0)
    store.append({NAME: "m"}, 2.0, 2.0)
    assert list(series.timestamps) == [1.0]


def test_labels_in_any_order_and_empty_labels_name_the_same_series() -> None:
    store = SeriesStore()
    store.append({NAME: "m", "a": "1", "b": "2"}, 1.0, 1.0)
    store.append({"b": "2", "a": "1", NAME: "m", "c": ""}, 2.0, 2.0)
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 0.0, 10.0)
    assert dict(series.labels) == {NAME: "m", "a": "1", "b": "2"}
    assert list(series.values) == [1.0, 2.0]


def test_out_of_order_and_duplicate_samples_are_refused_and_counted() -> None:
    store = SeriesStore()
    assert store.append_many([({NAME: "m"}, 2.0, 2.0), ({NAME: "m"}, 1.0, 1.0), ({NAME: "m"}, 2.0, 5.0)]) == 1
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 0.0, 10.0)
    assert list(series.values) == [2.0]
    stats = store.stats()
    assert (stats.samples, stats.out_of_order, stats.duplicate) == (1, 1, 1)


def test_prune_drops_samples_past_retention_and_series_left_empty() -> None:
    store = SeriesStore(retention=60.0)
    for t in range(0, 100, 10):
        store.append({NAME: "kept"}, float(t), 1.0)
    store.append({NAME: "gone"}, 5.0, 1.0)
    assert store.prune(now=100.0) == 6  # "kept" at 0..40, "gone" at 5
    [series] = store.select([Matcher(NAME, MatchOp.REGEX, ".*")], 0.0, 200.0)
    assert series.labels[NAME] == "kept"
    assert list(series.timestamps) == [50.0, 60.0, 70.0, 80.0, 90.0]
    assert (store.stats().series, store.stats().samples) == (1, 5)


def test_a_sample_older_than_what_was_pruned_is_refused_as_too_old() -> None:
    store = SeriesStore(retention=60.0)
    store.prune(now=100.0)
    assert store.append({NAME: "late"}, 30.0, 1.0) is not None
    assert store.select([Matcher(NAME, MatchOp.EQUAL, "late")], 0.0, 200.0) == []
    assert (store.stats().too_old, store.stats().series) == (1, 0)


def test_a_series_pruned_away_takes_no_more_samples_through_its_handle() -> None:
    store = SeriesStore(retention=60.0)
    ref = store.append({NAME: "m"}, 10.0, 1.0)
    assert ref is not None
    store.prune(now=100.0)
    assert not store.append_ref(ref, 100.0, STALE_NAN)
    assert store.stats().samples == 0


def test_new_series_beyond_max_series_are_refused_and_counted() -> None:
    store = SeriesStore(max_series=2)
    assert store.append({NAME: "a"}, 1.0, 1.0) is not None
    assert store.append({NAME: "b"}, 1.0, 1.0) is not None
    assert store.append({NAME: "c"}, 1.0, 1.0) is None
    assert store.append({NAME: "a"}, 2.0, 1.0) is not None  # known series still take samples
    assert (store.stats().series, store.stats().series_limit) == (2, 1)


def test_room_freed_by_pruning_takes_new_series_again() -> None:
    store = SeriesStore(max_series=1, retention=60.0)
    store.append({NAME: "a"}, 1.0, 1.0)
    store.prune(now=100.0)
    assert store.append({NAME: "b"}, 100.0, 1.0) is not None


def test_extend_adds_a_run_in_bulk_and_refuses_what_is_not_newer() -> None:
    store = SeriesStore()
    store.append({NAME: "m"}, 2.0, 2.0)
    assert store.extend({NAME: "m"}, [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]) == 2
    assert store.extend({NAME: "m"}, [6.0, 5.0], [6.0, 5.0]) == 1  # out of order within the run
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 0.0, 10.0)
    assert list(series.timestamps) == [2.0, 3.0, 4.0, 6.0]


def test_a_stale_marker_keeps_its_bits_through_the_store_and_is_told_from_nan() -> None:
    store = SeriesStore()
    store.append({NAME: "m"}, 1.0, math.nan)
    store.append({NAME: "m"}, 2.0, STALE_NAN)
    [series] = store.select([Matcher(NAME, MatchOp.EQUAL, "m")], 0.0, 10.0)
    assert [is_stale(v) for v in series.values] == [False, True]
    assert not is_stale(1.0)


def test_each_regex_is_compiled_once_and_each_selector_planned_once(store: SeriesStore) -> None:
    matchers._compile.cache_clear()
    matchers.plan.cache_clear()
    for _ in range(3):
        statuses(store, Matcher("status", MatchOp.REGEX, "5.."))
    assert matchers._compile.cache_info().misses == 1
    plans = matchers.plan.cache_info()
    assert (plans.misses, plans.hits) == (1, 2)
    # The same regex in another selector is not compiled again.
    statuses(store, Matcher("status", MatchOp.REGEX, "5.."), Matcher("path", MatchOp.EQUAL, "/"))
    assert matchers._compile.cache_info().misses == 1


def test_an_invalid_regex_says_which_one() -> None:
    with pytest.raises(ValueError, match=r"invalid regular expression '5\(\.'"):
        SeriesStore().select([Matcher("status", MatchOp.REGEX, "5(.")], 0.0, 1.0)


def test_selecting_by_metric_name_does_not_scan_other_metrics() -> None:
    store = SeriesStore()
    for i in range(100_000):
        store.append({NAME: f"other_{i % 100}", "i": str(i)}, 1.0, 1.0)
    store.append({NAME: "rare"}, 1.0, 1.0)
    matchers = [Matcher(NAME, MatchOp.EQUAL, "rare"), Matcher("i", MatchOp.NOT_EQUAL, "x")]
    start = time.perf_counter()
    for _ in range(100):
        assert len(store.select(matchers, 0.0, 2.0)) == 1
    # A scan of 100,000 series takes tens of milliseconds; a hundred looked-up selections far less.
    assert time.perf_counter() - start < 0.05


async def test_the_store_prunes_itself_on_the_clock() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = SeriesStore(retention=60.0)
    start = clock.now().timestamp()
    store.append({NAME: "m"}, start, 1.0)
    task = asyncio.create_task(store.run(clock, every=30.0))
    await asyncio.sleep(0)  # let it reach its first sleep
    await clock.advance(90.0)
    task.cancel()
    assert store.stats().series == 0


# Run in a fresh interpreter: its resident size before and after is the store's cost alone,
# without memory the rest of the suite freed and the store would reuse.
MEASURE = """
import psutil
from vigil.metrics.store import SeriesStore
labels = [{"__name__": "m", "job": "api", "instance": f"10.0.{i // 256}.{i % 256}:80"} for i in range(10_000)]
process = psutil.Process()
before = process.memory_info().rss
store = SeriesStore()
for t in range(100):
    for series in labels:
        store.append(series, 1.8e9 + 15 * t, float(t))
print((process.memory_info().rss - before) / store.stats().samples, store.stats().bytes_per_sample)
"""


def test_a_sample_costs_under_80_bytes_with_10000_series_of_100_samples() -> None:
    done = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True)
    measured, estimated = (float(figure) for figure in done.stdout.split())
    print(f"\nseries store: {measured:.1f} bytes/sample resident (stats() says {estimated:.1f})")
    assert measured < 80


def test_equality_matchers_narrow_through_the_postings_and_keep_creation_order() -> None:
    store = SeriesStore()
    for job in range(50):
        for path in ("/a", "/b", "/c"):
            store.append({"__name__": "req_total", "job": f"j{job}", "path": path}, 10.0, float(job))
    eq = [Matcher("__name__", MatchOp.EQUAL, "req_total"), Matcher("job", MatchOp.EQUAL, "j7")]
    found = store.select(eq, 0, 20)
    assert [s.labels["path"] for s in found] == ["/a", "/b", "/c"]
    both = store.select([*eq, Matcher("path", MatchOp.EQUAL, "/b")], 0, 20)
    assert [dict(s.labels) for s in both] == [{"__name__": "req_total", "job": "j7", "path": "/b"}]
    assert store.select([*eq, Matcher("path", MatchOp.NOT_EQUAL, "/b")], 0, 20)[1].labels["path"] == "/c"
    assert store.select([eq[0], Matcher("job", MatchOp.EQUAL, "nope")], 0, 20) == []


def test_pruned_series_leave_the_postings() -> None:
    store = SeriesStore(retention=60)
    store.append({"__name__": "up", "job": "old"}, 10.0, 1.0)
    store.append({"__name__": "up", "job": "new"}, 100.0, 1.0)
    store.prune(150.0)
    assert store.select([Matcher("job", MatchOp.EQUAL, "old")], 0, 200) == []
    assert [s.labels["job"] for s in store.select([Matcher("job", MatchOp.EQUAL, "new")], 0, 200)] == ["new"]
    store.append({"__name__": "up", "job": "old"}, 160.0, 1.0)
    assert [s.labels["job"] for s in store.select([Matcher("job", MatchOp.EQUAL, "old")], 0, 200)] == ["old"]


@pytest.mark.parametrize("seed", range(12))
def test_a_run_in_bulk_notes_the_nans_and_resets_that_samples_one_by_one_do(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.choice([math.nan, STALE_NAN, math.inf, *map(float, range(8))]) for _ in range(80)]
    times = [float(t) for t in range(80)]
    held = rng.randrange(80)
    one, bulk = SeriesStore(retention=math.inf), SeriesStore(retention=math.inf)
    for t, v in zip(times, values, strict=True):
        one.append({NAME: "m"}, t, v)
    for t, v in zip(times[:held], values[:held], strict=True):
        bulk.append({NAME: "m"}, t, v)
    assert bulk.extend({NAME: "m"}, times[held:], values[held:], ordered=seed % 2 == 0) == 80 - held
    selector = [Matcher(NAME, MatchOp.EQUAL, "m")]
    for start in range(-1, 80, 7):
        for end in range(start + 1, 80, 5):
            [a], [b] = one.select(selector, start, end), bulk.select(selector, start, end)
            assert (a.nan_free, a.monotonic) == (b.nan_free, b.monotonic), (start, end)
