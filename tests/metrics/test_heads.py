"""A series' head and compressed chunks answer as one run of samples: windows, marks, pruning."""

from __future__ import annotations

import math
import struct
from array import array
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.metrics.heads import CHUNK_SAMPLES, HEAD_MAX, HEAD_SPAN, UNTRACKED, SeriesRef
from vigil.metrics.promql.evaluate import compile_expr, evaluate
from vigil.metrics.series import STALE_NAN, Matcher, MatchOp, SeriesEdges
from vigil.metrics.store import SeriesStore

NAME = "__name__"
M = [Matcher(NAME, MatchOp.EQUAL, "m")]
VALUES = (
    st.floats(allow_nan=False, min_value=-1e6, max_value=1e6)
    | st.integers(-(2**25), 2**25).map(float)  # float32 holds most of these: narrow heads
    | st.sampled_from([math.nan, STALE_NAN, 0.0, -0.0, 0.5, 2.0**24 + 1, 1e300, 5e-324])
)


def bits(values: list[float]) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.sampled_from([15.0, 15.0, 15.0, 7.5, 0.0, -3.0]), VALUES), max_size=500),
    windows=st.lists(st.tuples(st.floats(0, 8000), st.floats(0, 8000)), min_size=1, max_size=8),
    bulk=st.booleans(),
)
def test_windows_over_chunks_and_head_match_a_plain_list(
    steps: list[tuple[float, float]], windows: list[tuple[float, float]], bulk: bool
) -> None:
    store = SeriesStore(retention=1e9)
    kept: list[tuple[float, float]] = []
    t = 0.0
    times, values = [], []
    for delta, value in steps:
        t += delta
        if not kept or t > kept[-1][0]:
            kept.append((t, value))
        times.append(t)
        values.append(value)
        if not bulk:
            store.append({NAME: "m"}, t, value)
    if bulk:
        store.extend({NAME: "m"}, times, values)
    assert store.stats().samples == len(kept)
    for a, b in windows:
        start, end = min(a, b), max(a, b)
        want = [(t, v) for t, v in kept if start < t <= end]
        got = store.select(M, start, end)
        if not want:
            assert got == [] and store.select_edges(M, start, end) == []
            continue
        [series] = got
        assert list(series.timestamps) == [t for t, _ in want]
        assert bits(list(series.values)) == bits([v for _, v in want])
        if series.nan_free:
            assert not any(math.isnan(v) for _, v in want)
        if series.monotonic:
            assert not any(b < a for (_, a), (_, b) in pairwise(want))
        # Its edges, read without copying: the same first and last samples and count.
        [ref] = store.held()
        edges = (len(want), want[0][0], want[0][1], want[-1][0], want[-1][1])
        assert ref.edges(start, end) is not None and bits(list(ref.edges(start, end) or ())) == bits(edges)
        [answer] = store.select_edges(M, start, end)
        if isinstance(answer, SeriesEdges):  # only for a window without NaN or drop
            assert bits(list(answer[1:])) == bits(edges) and answer.nameless == {}
            assert not any(math.isnan(v) for _, v in want)
            assert not any(b < a for (_, a), (_, b) in pairwise(want))
        else:
            assert list(answer.timestamps) == list(series.timestamps) and answer.labels == {}


def test_old_samples_are_compressed_and_the_newest_stay_plain() -> None:
    store = SeriesStore(retention=1e9)
    for i in range(3000):
        store.append({NAME: "m"}, 15.0 * i, float(i * 3))
    [series] = store.held()
    plain = series.timestamps
    assert plain[-1] - plain[0] >= HEAD_SPAN  # the rules' windows, sliced without decoding
    # One chunk's worth more at most.
    assert len(plain) <= CHUNK_SAMPLES or plain[CHUNK_SAMPLES] >= plain[-1] - HEAD_SPAN
    assert len(series.chunks) == (3000 - len(plain)) // CHUNK_SAMPLES
    assert store.stats().bytes_per_sample < 8


def test_pruning_cuts_through_a_chunk_exactly() -> None:
    store = SeriesStore(retention=1000.0)
    for i in range(400):
        store.append({NAME: "m"}, 10.0 * i, float(i))
    store.prune(3995.0)  # cutoff 2995: samples 0..299 go, 300.. stay
    [series] = store.select(M, 0.0, 1e9)
    assert series.timestamps[0] == 3000.0 and len(series.timestamps) == 100
    assert store.stats().samples == 100
    store.append({NAME: "m"}, 2990.0, 1.0)
    assert (store.stats().too_old, store.stats().samples) == (1, 100)


def test_a_counter_reset_inside_a_chunk_is_noted() -> None:
    store = SeriesStore(retention=1e9)
    for i in range(300):
        store.append({NAME: "m"}, 15.0 * i, float(i if i != 50 else 0))
    [early] = store.select(M, 0.0, 15.0 * 100)
    [late] = store.select(M, 15.0 * 100, 15.0 * 299)
    assert not early.monotonic and late.monotonic


@settings(max_examples=80, deadline=None)
@given(
    head=st.lists(VALUES, max_size=5),
    run=st.lists(VALUES | st.sampled_from([-math.inf, math.inf, -0.0]), min_size=1, max_size=40),
)
def test_a_run_written_in_bulk_notes_what_samples_written_one_by_one_note(
    head: list[float], run: list[float]
) -> None:
    # The store notes a bulk run in one pass (SeriesRef.note_run); one by one, each sample is
    # noted against the value before it. Both must leave the same marks, however many.
    one_by_one = SeriesRef({NAME: "m"})
    bulk = SeriesRef({NAME: "m"})
    previous = math.nan
    for i, value in enumerate(head + run):
        one_by_one.add(float(i), value)
        one_by_one.note(float(i), value, previous)
        previous = value
    for i, value in enumerate(head):
        bulk.add(float(i), value)
        bulk.note(float(i), value, head[i - 1] if i else math.nan)
    held = len(head)
    bulk.add_run([float(held + i) for i in range(len(run))], run)
    bulk.note_run(held, head[-1] if head else math.nan)
    for got, want in ((bulk.nan_at, one_by_one.nan_at), (bulk.drop_at, one_by_one.drop_at)):
        assert (got is UNTRACKED) is (want is UNTRACKED)
        assert (None if got is None else list(got)) == (None if want is None else list(want))


def test_a_fast_series_keeps_at_most_head_max_samples_plain() -> None:
    store = SeriesStore(retention=1e9)
    # Twice a second: HEAD_SPAN would hold more than HEAD_MAX samples.
    store.extend({NAME: "m"}, [i / 2 for i in range(5000)], [1.0] * 5000)
    for i in range(5000, 7000):
        store.append({NAME: "m"}, i / 2, 1.0)
    [series] = store.held()
    assert HEAD_SPAN * 2 > HEAD_MAX <= len(series.timestamps) < HEAD_MAX + CHUNK_SAMPLES
    [read] = store.select(M, -1.0, 1e9)
    assert list(read.timestamps) == [i / 2 for i in range(7000)]


def scrape_rounds(store: SeriesStore, names: list[str], rounds: range, step: float = 15.0) -> None:
    """One scrape of ``names`` per round, each series written at the same instant."""
    for i in rounds:
        for name in names:
            store.append({NAME: name}, step * i, float(i))


def test_the_series_of_one_scrape_share_their_heads_times() -> None:
    store = SeriesStore(retention=1e9)
    scrape_rounds(store, ["a", "b", "c"], range(400))
    a, b, c = sorted(store.held(), key=lambda s: s.labels[NAME])
    assert a.chunks and a.times is b.times is c.times  # one timeline after the first cut
    apart = SeriesStore(retention=1e9)  # the same series, each scraped at its own instants
    for offset, name in enumerate("abc"):
        for i in range(400):
            apart.append({NAME: name}, 15.0 * i + offset, float(i))
    assert all(x.times is not y.times for x, y in pairwise(apart.held()))
    # The three heads cost less than three heads of their own: their times are counted once.
    assert store.stats().bytes < apart.stats().bytes - 2 * len(a.timestamps) * 8 * 0.9
    for series in (a, b, c):
        [read] = store.select([Matcher(NAME, MatchOp.EQUAL, series.labels[NAME])], -1.0, 1e9)
        assert list(read.timestamps) == [15.0 * i for i in range(400)]
        assert list(read.values) == [float(i) for i in range(400)]


def test_series_first_seen_in_one_scrape_share_their_times_from_the_start() -> None:
    store = SeriesStore(retention=1e9)
    scrape_rounds(store, ["a", "b", "c"], range(5))
    store.append({NAME: "d"}, 15.0 * 4 + 1.0, 1.0)  # first seen a second after the others
    a, b, c, d = sorted(store.held(), key=lambda s: s.labels[NAME])
    assert a.times is b.times is c.times and d.times is not a.times
    assert list(d.timestamps) == [61.0] and list(c.timestamps) == [15.0 * i for i in range(5)]


def test_a_series_that_misses_a_scrape_leaves_the_share_and_the_others_keep_it() -> None:
    store = SeriesStore(retention=1e9)
    scrape_rounds(store, ["a", "b"], range(300))
    a, b = sorted(store.held(), key=lambda s: s.labels[NAME])
    assert a.times is b.times
    store.append({NAME: "a"}, 15.0 * 300, 300.0)  # b misses this scrape
    store.append({NAME: "b"}, 15.0 * 300 + 1.0, -1.0)  # …and is scraped a second later
    assert a.times is not b.times
    assert a.timestamps[-2:] == array("d", [15.0 * 299, 15.0 * 300])
    assert b.timestamps[-2:] == array("d", [15.0 * 299, 15.0 * 300 + 1.0])
    assert (a.values[-1], b.values[-1]) == (300.0, -1.0)


@settings(max_examples=60, deadline=None)
@given(
    rounds=st.lists(
        st.tuples(
            st.sampled_from([15.0, 15.0, 7.5, 0.0]),  # the scrape's step from the one before
            st.lists(st.sampled_from(["same", "same", "same", "skip", "late"]), min_size=3, max_size=3),
        ),
        max_size=400,
    ),
    prune_at=st.integers(0, 400),
)
def test_heads_sharing_times_read_as_each_series_was_written(
    rounds: list[tuple[float, list[str]]], prune_at: int
) -> None:
    store = SeriesStore(retention=3000.0)
    kept: dict[str, list[tuple[float, float]]] = {"a": [], "b": [], "c": []}
    t = 0.0
    for n, (step, fates) in enumerate(rounds):
        t += step
        for name, fate in zip("abc", fates, strict=True):
            at = t + 1.0 if fate == "late" else t
            if fate != "skip":
                store.append({NAME: name}, at, float(n))
                if not kept[name] or at > kept[name][-1][0]:
                    kept[name].append((at, float(n)))
        if n == prune_at:
            store.prune(t)
            kept = {name: [(at, v) for at, v in was if at > t - 3000.0] for name, was in kept.items()}
    for name, want in kept.items():
        got = store.select([Matcher(NAME, MatchOp.EQUAL, name)], -1.0, 1e9)
        assert [list(zip(s.timestamps, s.values, strict=True)) for s in got] == ([want] if want else [])


def test_a_series_keeps_no_labels_with_the_name_when_a_query_keeps_the_name() -> None:
    store = SeriesStore(retention=1e9)
    for i in range(40):
        store.append({NAME: "c", "job": "a"}, 15.0 * i, float(i))
    [series] = store.held()
    bare = store.stats().bytes
    for expr in ("rate(c[5m])", "sum by (job) (increase(c[5m]))", "deriv(c[5m])", "avg_over_time(c[5m])"):
        result = evaluate(compile_expr(expr), 585.0, store)
        assert not isinstance(result, float) and [dict(s.labels) for s in result] == [{"job": "a"}]
    assert store.stats().bytes == bare
    for expr in ("c", "last_over_time(c[1m])", "c > 5"):
        result = evaluate(compile_expr(expr), 585.0, store)
        assert not isinstance(result, float) and [dict(s.labels) for s in result] == [{NAME: "c", "job": "a"}]
    assert store.stats().bytes == bare
    assert series.labels == {NAME: "c", "job": "a"} and series.labels is not series.labels


def test_a_head_of_values_float32_holds_takes_4_bytes_a_sample_and_widens_for_one_it_cannot() -> None:
    store = SeriesStore(retention=1e9)
    for i in range(30):
        store.append({NAME: "m"}, 15.0 * i, float(i * 1000))
    [series] = store.held()
    assert series.values.typecode == "f" and series.values.itemsize == 4
    wide = [0.1, STALE_NAN, 2.0**24 + 1, 1e300, 5e-324, -0.0]
    for k, value in enumerate(wide):
        store.append({NAME: "m"}, 15.0 * (30 + k), value)
    assert series.values.typecode == "d"
    want = [float(i * 1000) for i in range(30)] + wide
    [read] = store.select(M, -1.0, 1e9)
    assert bits(list(read.values)) == bits(want)  # every bit back, the stale marker's too
    # Once the cut has closed the values float32 could not hold, the head is narrow again.
    for i in range(36, 36 + CHUNK_SAMPLES + 60):
        store.append({NAME: "m"}, 15.0 * i, float(i))
    assert series.chunks and series.values.typecode == "f"
    [read] = store.select(M, -1.0, 1e9)
    assert bits(list(read.values)) == bits(want + [float(i) for i in range(36, 36 + CHUNK_SAMPLES + 60)])


def test_a_run_written_in_bulk_is_float32_only_if_each_value_fits() -> None:
    store = SeriesStore(retention=1e9)
    times = [15.0 * i for i in range(40)]
    store.extend({NAME: "a"}, times, [float(i) for i in range(40)])
    store.extend({NAME: "b"}, times, [float(i) for i in range(39)] + [math.nan])
    narrow, wide = (next(s for s in store.held() if s.name == name) for name in ("a", "b"))
    assert narrow.values.typecode == "f" and wide.values.typecode == "d"
    store.extend({NAME: "a"}, [600.0, 615.0], [0.1, 7.0])  # a later run that does not fit
    assert narrow.values.typecode == "d"
    [read] = store.select([Matcher(NAME, MatchOp.EQUAL, "a")], -1.0, 1e9)
    assert list(read.values) == [float(i) for i in range(40)] + [0.1, 7.0]
