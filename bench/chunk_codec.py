"""Codecs for the series store's closed chunks, measured on bench/rules.py's data.

    python bench/chunk_codec.py [--jobs 20] [--chunk 120]

For each candidate: bytes a sample (values only; timestamps on a 15 s grid take a chunk's
header alone), the time to pack one chunk and to unpack it, medians of several runs. The store
uses ``zstd`` (``metrics.chunks``): see that module for why.

- ``zstd``: zstd (level 3, one context reused) over the plain doubles: the store's codec.
- ``zlib``: zlib (level 6) over the plain doubles, as stores written before zstd hold them.
- ``zlib-1``: zlib at level 1.
- ``transposed+zstd``, ``transposed+zlib``: the doubles' bytes transposed (all first bytes, then
  all second …), then compressed; undone by eight slice assignments.
- ``xor+transposed+zlib``: each value XORed with the one before (as Gorilla does), then as above;
  the XOR runs in Python, a sample at a time, so only its size is measured.
- ``gorilla`` (Prometheus' chunks): not decodable at C speed from Python; Prometheus' own bytes per
  sample on the same data are printed by bench/rules.py beside Vigil's blocks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from array import array
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import zstandard

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rule_data import all_series
from vigil.metrics import chunks


def transpose(raw: bytes) -> bytes:
    return b"".join([raw[i::8] for i in range(8)])


def untranspose(planes: bytes, count: int) -> array[float]:
    raw = bytearray(8 * count)
    for i in range(8):
        raw[i::8] = planes[i * count : (i + 1) * count]
    return array("d", raw)


def xor_previous(values: list[float]) -> bytes:
    words = array("Q", array("d", values).tobytes())
    out = array("Q", [words[0]])
    out.extend(b ^ a for a, b in pairwise(words))
    return out.tobytes()


def raw(values: list[float]) -> bytes:
    return array("d", values).tobytes()


def zlib_unpack(packed: bytes, count: int) -> array[float]:
    return chunks.unpack(packed, count, zstd=False)


ZSTD = zstandard.ZstdCompressor(level=chunks.LEVEL, write_content_size=False, write_checksum=False)
UNZSTD = zstandard.ZstdDecompressor()


def unzstd(packed: bytes, count: int) -> bytes:
    return UNZSTD.decompress(packed, max_output_size=8 * count)


CODECS: dict[str, tuple[Callable[[list[float]], bytes], Callable[[bytes, int], object] | None]] = {
    "zstd": (chunks.pack, chunks.unpack),
    "zlib": (lambda v: zlib.compress(raw(v), 6), zlib_unpack),
    "zlib-1": (lambda v: zlib.compress(raw(v), 1), zlib_unpack),
    "transposed+zstd": (
        lambda v: ZSTD.compress(transpose(raw(v))),
        lambda p, n: untranspose(unzstd(p, n), n),
    ),
    "transposed+zlib": (
        lambda v: zlib.compress(transpose(raw(v)), 6),
        lambda p, n: untranspose(zlib.decompress(p), n),
    ),
    "xor+transposed+zlib": (lambda v: zlib.compress(transpose(xor_previous(v)), 6), None),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20, help="jobs of 100 series from bench/rule_data")
    parser.add_argument("--chunk", type=int, default=120, help="samples a chunk")
    args = parser.parse_args()
    series = [values for _, values in all_series(args.jobs)]
    runs = [v[i : i + args.chunk] for v in series for i in range(0, len(v), args.chunk)]
    samples = sum(len(run) for run in runs)
    print(f"{len(series)} series, {len(runs)} chunks of up to {args.chunk} samples")
    for name, (encode, decode) in CODECS.items():
        packing = []
        for _ in range(5):
            started = time.perf_counter()
            encoded = [encode(run) for run in runs]
            packing.append((time.perf_counter() - started) / len(runs) * 1e6)
        size = sum(len(chunk) for chunk in encoded) / samples
        line = f"  {name:22} {size:5.2f} B/sample   pack {statistics.median(packing):5.1f} µs"
        if decode is not None:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                for chunk, run in zip(encoded, runs, strict=True):
                    decode(chunk, len(run))
                times.append((time.perf_counter() - started) / len(runs) * 1e6)
            line += f"   unpack {statistics.median(times):5.1f} µs a chunk"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
