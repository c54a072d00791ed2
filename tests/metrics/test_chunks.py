"""The chunk codec: every bit of every sample comes back, on a grid or not."""

from __future__ import annotations

import math
import struct
import zlib
from array import array
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.metrics import chunks
from vigil.metrics.series import STALE_NAN, is_stale


def bits(values: Sequence[float]) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


def increasing_times(deltas: list[float], start: float) -> list[float]:
    out, t = [], start
    for delta in deltas:
        t += delta
        out.append(t)
    return out


ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [STALE_NAN, -0.0, math.inf, -math.inf]
)
DELTAS = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False) | st.sampled_from(
    [15.0, 0.001, 86400.0 * 365]
)


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(min_value=-1e9, max_value=4e9, allow_nan=False),
    deltas=st.lists(DELTAS, min_size=1, max_size=300),
    data=st.data(),
)
def test_a_chunk_gives_back_exactly_what_went_in(
    start: float, deltas: list[float], data: st.DataObject
) -> None:
    times = increasing_times(deltas, start)
    if any(b <= a for a, b in pairwise(times)):
        return  # deltas too small for the magnitude: not an increasing run
    values = data.draw(st.lists(ANY_FLOAT, min_size=len(times), max_size=len(times)))
    chunk = chunks.encode(times, values)
    got_times, got_values = chunks.decode(chunk)
    assert bits(got_times) == bits(times)
    assert bits(got_values) == bits(values)
    assert chunks.bounds(chunk) == (times[0], times[-1])
    assert chunks.count(chunk) == len(times)


def test_stale_markers_keep_their_bits_and_plain_nan_stays_plain() -> None:
    _, values = chunks.decode(chunks.encode([1.0, 2.0, 3.0], [STALE_NAN, math.nan, -0.0]))
    assert is_stale(values[0]) and not is_stale(values[1])
    assert math.copysign(1.0, values[2]) == -1.0


@pytest.mark.parametrize(
    ("times", "header_only"),
    [
        ([1.8e9 + 15 * i for i in range(120)], True),  # a scrape on a fixed interval
        ([1.8e9 + 15 * i + (i % 3) * 0.001 for i in range(120)], False),  # jitter
        ([5.0], True),
    ],
)
def test_timestamps_on_a_grid_take_the_header_alone(times: list[float], header_only: bool) -> None:
    chunk = chunks.encode(times, [1.0] * len(times))
    assert chunks.regular(chunk) is header_only
    assert list(chunks.decode(chunk)[0]) == times


def test_series_closing_chunks_over_the_same_irregular_times_pack_them_once() -> None:
    times = [1.8e9 + 15 * i + (i % 3) * 0.001 for i in range(120)]
    first = chunks.encode(times, [1.0] * 120)
    length_at = chunks.HEADER.size + chunks.EDGE_VALUES.size
    times_at = length_at + chunks.LENGTH.size
    (length,) = chunks.LENGTH.unpack_from(first, length_at)
    times[5] += 0.0005  # the caller's list changes after the first chunk: not the times packed then
    second = chunks.encode(times, [2.0] * 120)
    assert first[times_at : times_at + length] != second[times_at : times_at + length]
    assert list(chunks.decode(second)[0]) == times and list(chunks.decode(first)[1]) == [1.0] * 120
    third = chunks.encode(list(times), [3.0] * 120)
    assert third[length_at : times_at + length] == second[length_at : times_at + length]
    assert list(chunks.decode(third)[0]) == times


def test_integer_counters_take_about_two_bytes_a_sample() -> None:
    values = [float(1_000_000 + 37 * i + (i * i) % 11) for i in range(120)]
    chunk = chunks.encode([1.8e9 + 15 * i for i in range(120)], values)
    assert len(chunk) / 120 < 3


@pytest.mark.parametrize("count", [0, 70_000])
def test_an_empty_or_oversized_chunk_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="a chunk holds 1 to 65535 samples"):
        chunks.encode([float(i) for i in range(count)], [0.0] * count)


def test_a_damaged_chunk_is_refused() -> None:
    chunk = chunks.encode([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="expected"):
        chunks.decode(chunk[: chunks.HEADER.size + chunks.EDGE_VALUES.size] + zstandard.compress(b"x" * 8))
    with pytest.raises(ValueError, match="cannot be unpacked"):
        chunks.decode(chunk[:-3])  # cut short


@pytest.mark.parametrize("jitter", [0.0, 0.001])
def test_chunks_packed_by_zlib_in_older_stores_are_still_read(jitter: float) -> None:
    # The layout of the chunks stores held before zstd: the same header, kind 0 or 1, zlib streams.
    times = [1.8e9 + 15 * i + (i % 2) * jitter for i in range(50)]
    values = [float(i * i) for i in range(50)]
    packed_values = zlib.compress(array("d", values).tobytes(), 6)
    if jitter:
        packed_times = zlib.compress(array("d", times).tobytes(), 6)
        header = chunks.HEADER.pack(50, 1, times[0], times[-1], 15.0)
        old = header + chunks.LENGTH.pack(len(packed_times)) + packed_times + packed_values
    else:
        old = chunks.HEADER.pack(50, 0, times[0], times[-1], 15.0) + packed_values
    got_times, got_values = chunks.decode(old)
    assert bits(got_times) == bits(times) and bits(got_values) == bits(values)
    assert chunks.regular(old) is not bool(jitter)
    assert chunks.decode(chunks.encode(times, values))[1] == got_values  # now packed by zstd


@pytest.mark.parametrize("jitter", [0.0, 0.001])
def test_a_chunk_tells_its_edges_from_its_header_and_an_older_one_from_its_samples(jitter: float) -> None:
    times = [1.8e9 + 15 * i + (i % 2) * jitter for i in range(50)]
    values = [float(50 - i) if i % 7 else -0.0 for i in range(50)]
    chunk = chunks.encode(times, values)
    edges = chunks.edges(chunk)
    assert edges == (50, times[0], values[0], times[-1], values[-1])
    assert bits([edges[2]]) == bits([-0.0])  # the bits as they went in
    # The zstd chunks of stores written before edge values: the same without them, the bit clear.
    count, kind, first, last, step = chunks.HEADER.unpack_from(chunk)
    header = chunks.HEADER.pack(count, kind & ~chunks.EDGES, first, last, step)
    older = header + chunk[chunks.HEADER.size + chunks.EDGE_VALUES.size :]
    got_times, got_values = chunks.decode(older)
    assert bits(got_times) == bits(times) and bits(got_values) == bits(values)
    assert chunks.edges(older) == edges and chunks.regular(older) is not bool(jitter)


def test_each_thread_packs_with_its_own_context() -> None:
    runs = [[float(k * 1000 + i) for i in range(200)] for k in range(8)]

    def round_trip(values: list[float]) -> bool:
        times = [float(i) for i in range(200)]
        return all(list(chunks.decode(chunks.encode(times, values))[1]) == values for _ in range(50))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(round_trip, runs))


def test_recently_decoded_chunks_are_shared_and_bounded() -> None:
    recent = chunks.RecentChunks(limit=250)
    made = [chunks.encode([float(t) for t in range(k, k + 100)], [float(k)] * 100) for k in range(5)]
    first = recent.decode(made[0])[1]
    assert recent.decode(made[0])[1] is first  # decoded once, while among the recent
    for chunk in made[1:]:
        recent.decode(chunk)
    assert recent.decode(made[0])[1] is not first  # pushed out by newer ones: at most 250 samples
    assert list(recent.decode(made[4])[1]) == [4.0] * 100
    assert recent.samples <= 250
