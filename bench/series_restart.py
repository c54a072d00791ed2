"""Start-up of the series store from its write-ahead log: ``--series`` series (bench/rules.py's
data: 100,000 by default) with an hour of samples each (240, 15 s apart) logged as ``vigil up``
logs them — every sample in arrival order, one fsynced record a second — then replayed into an
empty store by a fresh process, ``--runs`` times. Prints the replay's median seconds (target:
under 10 s), the log's size and bytes per sample.

    .venv/bin/python bench/series_restart.py [--series 100000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python bench/series_restart.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rule_data import SAMPLES, SERIES_PER_JOB, STEP, all_series
from vigil.engine.clock import SystemClock
from vigil.metrics.store import SeriesRef, SeriesStore
from vigil.metrics.wal.log import SeriesLog
from vigil.metrics.wal.segments import segment_paths

RETENTION = 2 * 3600.0


async def write_log(folder: Path, series: int, end: float) -> tuple[int, float]:
    """Log the data as a running Vigil would: each target (a job's instance, 25 series) scraped
    every 15 s at its own offset, all its samples at the scrape's time; one record a second.
    Returns (samples written, seconds taken)."""
    store = SeriesStore(retention=RETENTION, max_series=series + 1)
    log = SeriesLog(folder, SystemClock())
    log.open(store)
    targets: dict[tuple[str, str], list[tuple[SeriesRef, list[float]]]] = {}
    first = end - SAMPLES * STEP
    for labels, values in all_series(series // SERIES_PER_JOB):
        ref = store.append(labels, first, values[0])  # created now, logged with the rest
        if ref is not None:
            targets.setdefault((labels["job"], labels["instance"]), []).append((ref, values))
    offsets = sorted((zlib.crc32(repr(key).encode()) % 15_000 / 1000, key) for key in targets)
    began = time.perf_counter()
    flushed_at = first
    for i in range(1, SAMPLES):
        for offset, key in offsets:
            t = first + i * STEP + offset
            if t - flushed_at >= 1.0:
                await log.flush()
                flushed_at = t
            for ref, values in targets[key]:
                store.append_ref(ref, t, values[i])
    await log.close()
    return log.written, time.perf_counter() - began


def replay_once(folder: Path) -> dict[str, float]:
    """In this process: an empty store, the log replayed into it."""
    store = SeriesStore(retention=RETENTION, max_series=10_000_000)
    began = time.perf_counter()
    done = SeriesLog(folder, SystemClock()).open(store, since=time.time() - RETENTION)
    took = time.perf_counter() - began
    stats = store.stats()
    return {"seconds": took, "samples": stats.samples, "series": stats.series, "skipped": done.skipped}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep", type=Path, help="write the log here and keep it (default: a temporary folder)"
    )
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # the child process' part
    args = parser.parse_args()
    if args.replay:
        print(json.dumps(replay_once(args.replay)))
        return 0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vigil-wal-"))
    try:
        print(f"writing the log: {args.series} series x {SAMPLES} samples …", flush=True)
        written, took = asyncio.run(write_log(folder, args.series, time.time()))
        size = sum(path.stat().st_size for _, path in segment_paths(folder))
        segments = len(segment_paths(folder))
        print(f"  {written:,} samples in {took:.1f}s; {size / 2**20:.0f} MiB in {segments} segments")
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--replay", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.splitlines()[-1]))
            print(f"  replay {runs[-1]['seconds']:.2f}s", flush=True)
        median = statistics.median(run["seconds"] for run in runs)
        last = runs[-1]
        print()
        print(
            f"{int(last['series']):,} series, {int(last['samples']):,} samples restored, {last['skipped']} skipped"
        )
        print(
            f"start-up from the log  {median:.2f} s median of {len(runs)}  (target < 10 s: {'met' if median < 10 else 'MISSED'})"
        )
        print(f"log size               {size / 2**20:.0f} MiB, {size / written:.1f} bytes a sample")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
