"""Blocks on disk: written by compaction, loaded at start, read when a window reaches past memory,
deleted by age and size; a torn block is ignored. The write-ahead log is C1's: here a fake that
records the ``drop_before`` calls stands in for it (its module is not on this branch)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from vigil.config.series_storage import SeriesStorage
from vigil.metrics import chunks
from vigil.metrics.blocks import BlockCollector, BlockSet
from vigil.metrics.compaction import BLOCK_SPAN, Compactor, open_series
from vigil.metrics.promql.evaluate import compile_expr
from vigil.metrics.ranges import RangeSeries, evaluate_range
from vigil.metrics.series import Matcher, MatchOp, SeriesEdges
from vigil.metrics.store import SeriesStore

NAME = "__name__"
DAY = 86400.0
T0 = 1.8e9
STEP = 60.0
MEMORY = 3 * 3600.0


class FakeWal:
    """Records what compaction asks of the write-ahead log."""

    def __init__(self) -> None:
        self.dropped: list[float] = []

    def drop_before(self, t: float) -> None:
        self.dropped.append(t)


def labels(i: int) -> dict[str, str]:
    return {NAME: "req_total", "job": "api", "instance": f"i{i}"}


def value(i: int, t: float) -> float:
    return float(int((t - T0) / STEP) * (i + 1))  # a counter per series


def fill(
    path: Path, hours: float, *, series: int = 5, wal: FakeWal | None = None
) -> tuple[SeriesStore, Compactor]:
    """A store fed ``hours`` of samples as `vigil up` would: compaction every 2 h, pruning every minute."""
    blocks = BlockSet(path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    store = SeriesStore(retention=MEMORY, blocks=blocks)
    compactor = Compactor(store, blocks, wal)
    next_block = T0 + BLOCK_SPAN
    t = T0
    while t < T0 + hours * 3600:
        for i in range(series):
            store.append(labels(i), t, value(i, t))
        if t >= next_block:
            compactor.compact(t)
            next_block += BLOCK_SPAN
        store.prune(t)
        t += STEP
    return store, compactor


def test_a_24_hour_range_query_reads_blocks_past_memory_and_agrees_with_a_store_holding_all(
    tmp_path: Path,
) -> None:
    store, _ = fill(tmp_path, 25)
    reference = SeriesStore(retention=1e12)
    end = T0 + 25 * 3600 - STEP
    t = T0
    while t <= end:
        for i in range(5):
            reference.append(labels(i), t, value(i, t))
        t += STEP
    assert store.stats().samples < reference.stats().samples / 4  # memory holds its 3 hours only
    for expr in ("req_total", "rate(req_total[5m])", "increase(req_total[1h])"):
        compiled = compile_expr(expr)
        got = evaluate_range(compiled, end - DAY, end, 900.0, store)
        want = evaluate_range(compiled, end - DAY, end, 900.0, reference)
        assert all(isinstance(s, RangeSeries) for s in got)
        assert got == want
        assert len(got) == 5 and len(got[0].points) == 97  # type: ignore[union-attr]


def test_a_window_reaching_the_blocks_comes_whole_never_as_edges(tmp_path: Path) -> None:
    store, _ = fill(tmp_path, 25, series=2)
    end = T0 + 25 * 3600 - STEP
    matchers = [Matcher(NAME, MatchOp.EQUAL, "req_total")]
    for start in (end - DAY, end - 600):  # from the blocks on, and from memory alone
        edges = store.select_edges(matchers, start, end)
        whole = store.select(matchers, start, end)
        assert len(edges) == len(whole) == 2
        if start < store.blocks.newest():  # type: ignore[union-attr]
            assert [list(e.timestamps) for e in edges] == [list(w.timestamps) for w in whole]  # type: ignore[union-attr]
        else:
            assert all(isinstance(e, SeriesEdges) for e in edges)
            assert [e.samples for e in edges] == [len(w.timestamps) for w in whole]  # type: ignore[union-attr]


def test_compaction_writes_a_block_per_2_hours_and_trims_the_wal(tmp_path: Path) -> None:
    wal = FakeWal()
    store, compactor = fill(tmp_path, 6.5, wal=wal)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["b-000001", "b-000002", "b-000003"]
    meta = json.loads((tmp_path / "b-000003" / "meta.json").read_text())
    assert meta["series"] == 5 and meta["samples"] > 0
    # Every sample before the floor is in a block; the floor is the oldest head sample.
    assert wal.dropped == sorted(wal.dropped) and len(wal.dropped) == 3
    heads = [series.timestamps[0] for series in store.held()]
    assert wal.dropped[-1] <= min(heads)
    # At shutdown every head goes to a block too, and the WAL may drop everything.
    compactor.compact(T0 + 6.5 * 3600, closing=True)
    assert all(not series.timestamps for series in store.held())
    assert wal.dropped[-1] >= max(series.first() for series in store.held())


def test_a_restart_loads_the_blocks_and_refuses_samples_they_hold(tmp_path: Path) -> None:
    _, compactor = fill(tmp_path, 4.5)
    last = T0 + 4.5 * 3600 - STEP
    compactor.compact(last, closing=True)
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    again = SeriesStore(retention=MEMORY, blocks=blocks)
    # A WAL replay of the last minutes: everything the blocks hold is refused, nothing doubled.
    replayed = sum(again.append(labels(0), t, value(0, t)) is not None for t in (last - STEP, last))
    assert replayed == 2 and again.stats().samples == 0
    assert again.stats().duplicate + again.stats().out_of_order == 2
    [series] = again.select([Matcher("instance", MatchOp.EQUAL, "i0")], T0, last)
    assert list(series.timestamps) == [T0 + STEP * k for k in range(1, int((last - T0) / STEP) + 1)]


def test_blocks_go_by_age_then_by_size_oldest_first(tmp_path: Path) -> None:
    fill(tmp_path, 8.5)
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    assert [m.name for m in blocks.metas] == ["b-000001", "b-000002", "b-000003", "b-000004"]
    # Age: at T0 + 6h with a 3-hour retention, the blocks ending before 3h go.
    blocks.retention = 3 * 3600
    gone = blocks.apply_retention(T0 + 6 * 3600)
    assert gone == ["b-000001"]
    # Size: room for two blocks only.
    blocks.retention = 15 * DAY
    blocks.max_size = blocks.metas[-1].bytes + blocks.metas[-2].bytes
    assert blocks.apply_retention(T0 + 6 * 3600) == ["b-000002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b-000003", "b-000004"]
    du = sum(f.stat().st_size for f in (tmp_path / "b-000004").iterdir())
    assert blocks.metas[-1].bytes == pytest.approx(du, abs=400)


def test_a_torn_block_is_ignored_and_removed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(tmp_path, 2.5)
    torn = tmp_path / ".tmp-b-000002"
    torn.mkdir()
    (torn / "chunks").write_bytes(b"\x00" * 100)  # a crash before index and meta were written
    broken = tmp_path / "b-000007"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    with caplog.at_level(logging.WARNING):
        blocks.open()
    assert [m.name for m in blocks.metas] == ["b-000001"]
    assert not torn.exists()
    assert "did not finish" in caplog.text and "b-000007: unreadable meta.json" in caplog.text
    assert math.isfinite(blocks.newest())


def test_series_of_two_names_with_the_same_labels_stay_apart_when_read_from_disk(tmp_path: Path) -> None:
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    store = SeriesStore(retention=MEMORY, blocks=blocks)
    for k in range(400):
        for name in ("a_total", "b_total"):
            store.append({NAME: name, "job": "x"}, T0 + STEP * k, float(k))
    Compactor(store, blocks).compact(T0 + STEP * 400, closing=True)
    store.prune(T0 + STEP * 399 + MEMORY - 3600)  # memory keeps the last hour only
    found = store.select([Matcher(NAME, MatchOp.REGEX, "[ab]_total")], T0 - 1, T0 + STEP * 400)
    assert sorted(s.labels[NAME] for s in found) == ["a_total", "b_total"]
    assert all(list(s.values) == [float(k) for k in range(400)] for s in found)


def test_compaction_refuses_a_memory_too_short_to_reach_the_next_block(tmp_path: Path) -> None:
    blocks = BlockSet(tmp_path, retention=DAY, max_size=10**9)
    with pytest.raises(ValueError, match="compacting every 7200s needs at least 7800s"):
        Compactor(SeriesStore(retention=3600.0, blocks=blocks), blocks)


def test_the_stack_files_metrics_section_opens_the_store_over_its_blocks(tmp_path: Path) -> None:
    fill(tmp_path, 2.5)
    wal = FakeWal()
    storage = SeriesStorage.model_validate({"retention": "1d", "max_size": "5MB"})
    store, compactor = open_series(tmp_path, storage, wal)
    assert (compactor.blocks.retention, compactor.blocks.max_size) == (DAY, 5_000_000)
    assert [m.name for m in compactor.blocks.metas] == ["b-000001"]
    assert store.select([Matcher("instance", MatchOp.EQUAL, "i3")], T0, T0 + 3600)
    store.append(labels(3), T0 + 3 * 3600, 1.0)
    compactor.compact(T0 + 3 * 3600, closing=True)
    assert len(wal.dropped) == 1 and [m.name for m in compactor.blocks.metas][-1] == "b-000002"


def test_compaction_joins_the_run_it_closes_to_the_newest_chunk_no_block_holds(tmp_path: Path) -> None:
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    store = SeriesStore(retention=MEMORY, blocks=blocks)
    times = [T0 + 15.0 * i for i in range(240)]
    store.extend(labels(0), times, [float(i) for i in range(240)])  # one chunk and a plain head
    [series] = store.held()
    assert len(series.chunks) == 1 and len(series.values) > 0
    Compactor(store, blocks).compact(times[-1], closing=True)
    assert [chunks.count(chunk) for chunk in series.chunks] == [240]  # one chunk, not two
    # A chunk a block holds already is left as it is: what follows goes into a chunk of its own.
    for i in range(240, 250):
        store.append(labels(0), T0 + 15.0 * i, float(i))
    Compactor(store, blocks).compact(T0 + 15.0 * 249, closing=True)
    assert [chunks.count(chunk) for chunk in series.chunks] == [240, 10]
    reopened = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    reopened.open()
    [read] = SeriesStore(retention=MEMORY, blocks=reopened).select(
        [Matcher(NAME, MatchOp.EQUAL, "req_total")], T0 - 1, T0 + 15.0 * 250
    )
    assert list(read.timestamps) == [T0 + 15.0 * i for i in range(250)]
    assert list(read.values) == [float(i) for i in range(250)]


def _damage(path: Path, offset: int) -> None:
    with open(path, "r+b") as data:
        data.seek(offset)
        data.write(b"\xff" * 24)


def test_a_damaged_chunk_on_disk_is_skipped_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(tmp_path, 4.5, series=2)
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    blocks.open()
    whole = {k: (list(t), list(v)) for k, _, t, v in _read_all(blocks)}
    # Damage the values of the first chunk of series i0 in the first block (past its header).
    index = blocks._index(blocks.metas[0])
    [(_, refs)] = [entry for entry in index["req_total"] if entry[0]["instance"] == "i0"]
    offset, length, first, last = refs[0]
    _damage(tmp_path / "b-000001" / "chunks", offset + length - 24)
    again = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    again.open()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            read = {k: (list(t), list(v)) for k, _, t, v in _read_all(again)}
    # The damaged chunk's samples are gone; every other sample is still served, in order.
    lost = [t for t in whole["i0"][0] if first <= t <= last]
    assert read["i0"][0] == [t for t in whole["i0"][0] if not first <= t <= last] and lost
    assert read["i1"] == whole["i1"]
    assert again.damaged == {("b-000001", offset)}
    assert caplog.text.count("skipping its damaged chunks") == 1
    assert "b-000001" in caplog.text
    figures = {m.name: m.samples[0].value for m in BlockCollector(again).collect()}
    assert figures["vigil_series_block_damaged_chunks"] == 1 and figures["vigil_series_blocks"] == 2


def test_a_block_whose_index_or_chunks_cannot_be_read_is_skipped_and_the_rest_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(tmp_path, 6.5, series=2)
    (tmp_path / "b-000001" / "index.json.z").write_bytes(b"not zlib at all")
    (tmp_path / "b-000002" / "chunks").unlink()
    blocks = BlockSet(tmp_path, retention=15 * DAY, max_size=10**9)
    with caplog.at_level(logging.WARNING):
        blocks.open()
        read = {k: list(t) for k, _, t, _ in _read_all(blocks)}
        _read_all(blocks)
    assert blocks.unreadable == {"b-000001", "b-000002"}
    assert caplog.text.count("cannot be read") == 2
    held = read["i0"]
    assert held and min(held) > blocks.metas[1].maxt and held == sorted(held)  # block 3 alone
    store = SeriesStore(retention=MEMORY, blocks=blocks)
    assert store.select([Matcher("instance", MatchOp.EQUAL, "i1")], T0, T0 + 7 * 3600)
    # Deleting a skipped block forgets it.
    blocks.retention = 3600.0
    blocks.apply_retention(T0 + 6.5 * 3600)
    assert not blocks.unreadable


def _read_all(blocks: BlockSet) -> list[tuple[str, dict[str, str], list[float], list[float]]]:
    found = blocks.read([Matcher(NAME, MatchOp.EQUAL, "req_total")], T0 - 1, T0 + DAY)
    return [(labels["instance"], labels, list(times), list(values)) for labels, times, values in found]
