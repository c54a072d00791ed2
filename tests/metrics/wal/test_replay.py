"""The replay across segments and runs: a series keeps its id through a run's segments, a later
run that numbers its series afresh still replays each sample to its own series, a segment whose
series record is lost counts its samples as orphans, and segments out of time order come back
sorted with each time once."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.metrics.wal.conftest import SERIES, contents, fill, logged, reference, reopened, segments
from vigil.metrics.wal.log import LogOptions
from vigil.metrics.wal.records import RecordKind, ScanCount, decode_series, scan

SMALL = LogOptions(segment_size=300)  # about a batch a segment


def named(path: Path) -> dict[int, str]:
    """The ids a segment names, with their labels' text."""
    out: dict[int, str] = {}
    for kind, payload in scan(path.read_bytes(), ScanCount()):
        if kind is RecordKind.SERIES:
            batch = decode_series(payload)
            assert batch is not None
            out.update(zip(batch.ids, batch.keys, strict=True))
    return out


async def test_a_series_keeps_its_id_in_every_segment_of_a_run(tmp_path: Path) -> None:
    store, log = logged(tmp_path, SMALL)
    await fill(store, log, range(2))
    for batch in range(2, 4):  # the next segments meet the series in another order
        for i in (2, 0, 1):
            store.append(SERIES[i], 1000.0 + batch * 3, 1.0)
        assert await log.flush()
    await log.close()
    files = segments(tmp_path)
    assert len(files) == 4
    first = named(files[0])
    assert len(first) == 3
    assert all(named(path) == first for path in files[1:])  # each names them again, by the same id

    again, done = reopened(tmp_path)
    assert (done.samples, done.orphans, done.skipped) == (24, 0, 0)
    assert contents(again) == contents(store)


async def test_a_later_run_numbering_its_series_afresh_replays_each_sample_to_its_series(
    tmp_path: Path,
) -> None:
    store, log = logged(tmp_path, SMALL)
    await fill(store, log, range(2))
    await log.close()
    # The next run meets the series in the opposite order: id 0 is another series now.
    second, log2 = logged(tmp_path, SMALL)
    for batch in range(2, 4):
        for step in range(3):
            t = 1000.0 + batch * 3 + step
            for i in (2, 1, 0):
                second.append(SERIES[i], t, t * (i + 1))
        assert await log2.flush()
    await log2.close()
    ids = [{key: i for i, key in named(path).items()} for path in segments(tmp_path)]
    assert ids[0] != ids[-1] and set(ids[0]) == set(ids[-1])

    again, done = reopened(tmp_path)
    assert contents(again) == reference(range(4))
    assert (done.orphans, done.skipped) == (0, 0)


async def test_a_segment_whose_series_record_is_lost_counts_its_samples_as_orphans(tmp_path: Path) -> None:
    store, log = logged(tmp_path, SMALL)
    await fill(store, log, range(3))
    await log.close()
    middle = segments(tmp_path)[1]
    damaged = bytearray(middle.read_bytes())
    damaged[20] ^= 0x5A  # inside the series record that opens the segment
    middle.write_bytes(bytes(damaged))

    again, done = reopened(tmp_path)
    # The ids of the segments around it are not taken on trust: they may be another run's.
    assert (done.skipped, done.orphans) == (1, 9)
    assert contents(again) == {
        key: [s for s in samples if not 1003 <= s[0] <= 1005] for key, samples in reference(range(3)).items()
    }


async def test_segments_out_of_time_order_come_back_sorted_with_each_time_once(tmp_path: Path) -> None:
    store, log = logged(tmp_path, SMALL)
    await fill(store, log, range(4))
    await log.close()
    files = segments(tmp_path)
    hidden = tmp_path / "hidden"
    files[2].rename(hidden)  # unreadable at the next start: batches 2 and 3 are taken again
    files[3].rename(tmp_path / "hidden-too")
    second, log2 = logged(tmp_path, SMALL)
    await fill(second, log2, range(2, 5))
    await log2.close()
    hidden.rename(tmp_path / "00000099")  # found again, after the segments that repeat it

    again, done = reopened(tmp_path)
    assert contents(again) == reference(range(5))
    assert done.skipped == 0


def test_the_collector_is_as_it_was_after_a_replay(tmp_path: Path) -> None:
    assert gc.isenabled()
    reopened(tmp_path)
    assert gc.isenabled()
    gc.disable()
    try:
        reopened(tmp_path)
        assert not gc.isenabled()
    finally:
        gc.enable()
