"""The series log on a real folder: what is written comes back, a restart neither duplicates nor
reorders, a torn tail and a flipped byte cost their own record only, segments are cut and stand
alone, and ``drop_before`` deletes whole segments."""

from __future__ import annotations

import random
from pathlib import Path

from tests.metrics.wal.conftest import contents, fill, logged, reference, reopened, segments
from vigil.metrics.wal.log import LogOptions


async def test_samples_come_back_as_they_were_written_stale_markers_too(tmp_path: Path) -> None:
    store, log = logged(tmp_path)
    await fill(store, log, range(5))
    await log.close()

    again, done = reopened(tmp_path)
    assert contents(again) == contents(store) == reference(range(5))
    assert (done.samples, done.series, done.skipped, done.orphans) == (45, 3, 0, 0)


async def test_a_restart_logs_to_a_new_segment_and_replays_without_duplicates(tmp_path: Path) -> None:
    store, log = logged(tmp_path)
    await fill(store, log, range(3))  # then killed: no close

    second, log2 = logged(tmp_path)
    assert log2.replayed is not None and log2.replayed.samples == 27
    await fill(second, log2, range(2, 6))  # batch 2 again: refused by the store, not logged twice
    assert log2.written == 27

    third, done = reopened(tmp_path)
    assert contents(third) == reference(range(6))
    assert len(segments(tmp_path)) == 2
    assert done.skipped == 0


async def test_a_torn_tail_loses_the_last_batch_only(tmp_path: Path) -> None:
    store, log = logged(tmp_path)
    await fill(store, log, range(4))
    before_last = log.bytes
    await fill(store, log, range(4, 5))
    [segment] = segments(tmp_path)
    whole = segment.read_bytes()
    expected = reference(range(4))
    for cut in sorted(
        {before_last + 1, before_last + 11, *random.sample(range(before_last + 1, len(whole)), 5)}
    ):
        segment.write_bytes(whole[:cut])
        again, done = reopened(tmp_path)
        assert contents(again) == expected, cut
        assert done.skipped == 1, cut


async def test_a_flipped_byte_mid_segment_skips_that_record_and_keeps_the_rest(tmp_path: Path) -> None:
    store, log = logged(tmp_path)
    ends = []
    for batch in range(5):
        await fill(store, log, range(batch, batch + 1))
        ends.append(log.bytes)
    [segment] = segments(tmp_path)
    whole = segment.read_bytes()
    # Batch 2's record: a byte of its payload, then of its header's length.
    for at in (ends[1] + 30, ends[1] + 3):
        damaged = bytearray(whole)
        damaged[at] ^= 0x5A
        segment.write_bytes(bytes(damaged))
        again, done = reopened(tmp_path)
        kept = contents(again)
        assert done.skipped == 1
        expected = reference(range(5))
        for key, samples in expected.items():
            assert kept[key] == [s for s in samples if not 1006 <= s[0] <= 1008], at


async def test_segments_are_cut_at_their_size_and_each_names_its_own_series(tmp_path: Path) -> None:
    store, log = logged(tmp_path, LogOptions(segment_size=300))
    await fill(store, log, range(4))
    await log.close()
    files = segments(tmp_path)
    assert len(files) == 4
    assert all(path.stat().st_size < 600 for path in files)

    files[0].unlink()  # its series records went with it; the next segment names them again
    again, done = reopened(tmp_path)
    assert done.orphans == 0
    expected = reference(range(4))
    assert contents(again) == {k: [s for s in v if s[0] > 1002] for k, v in expected.items()}


async def test_drop_before_deletes_whole_segments_whose_samples_are_all_that_old(tmp_path: Path) -> None:
    store, log = logged(tmp_path, LogOptions(segment_size=300))
    await fill(store, log, range(5))  # a segment a batch; batch b's newest sample is 1000 + 3b + 2
    assert log.drop_before(1004.0) == 1  # batch 0's segment (1002); batch 1's ends at 1005
    assert len(segments(tmp_path)) == 4
    assert log.drop_before(1004.0) == 0
    assert log.drop_before(10_000.0) == 3  # never the open segment
    assert len(segments(tmp_path)) == 1
    await fill(store, log, range(5, 6))

    again, _ = reopened(tmp_path)
    expected = reference(range(6))
    assert contents(again) == {k: [s for s in v if s[0] > 1011] for k, v in expected.items()}


async def test_drop_over_deletes_the_oldest_segments_while_the_log_is_too_large(tmp_path: Path) -> None:
    store, log = logged(tmp_path, LogOptions(segment_size=300))
    await fill(store, log, range(5))
    sizes = [path.stat().st_size for path in segments(tmp_path)]
    assert log.drop_over(sum(sizes)) == 0
    assert log.drop_over(sum(sizes) - 1) == 1
    assert log.drop_over(sizes[-1] + sizes[-2]) == 2
    assert log.drop_over(0) == 1  # the open segment stays, however large
    assert len(segments(tmp_path)) == 1
