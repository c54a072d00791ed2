"""A PostgreSQL backup verified by restoring it: ``vigil backup run`` against the same work done
by hand (``pg_dump -Fc``, then ``createdb`` + ``pg_restore`` into a scratch database and
``dropdb``), in the same run, on the same data. Prints both wall times (medians), their ratio
(target: Vigil within 10 %), and Vigil's peak resident memory meanwhile (target: under 150 MB,
whatever the database's size).

Vigil's figure is the whole command as a user runs it: start-up, pg_dump in a snapshot with
each table's rows counted in it, its stream written to the artefact, hashed and restored into a
scratch database at once, the manifest, and the scratch database's row counts. The database is made on the local PostgreSQL (127.0.0.1:5432) and dropped after.

    python bench/backups.py [--size 200MB] [--repeat 3]      # --size 1GB for the issue's figure
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
ROW_BYTES = 140  # on disk per row of the table below, roughly
TARGET_RATIO = 1.10
TARGET_RSS_MB = 150.0


def size_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB)", text.strip(), re.IGNORECASE)
    if match is None:
        raise SystemExit(f"--size: write it like 200MB or 1GB, not {text!r}")
    return int(float(match.group(1)) * {"kb": 1e3, "mb": 1e6, "gb": 1e9}[match.group(2).lower()])


def psql(database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", *SERVER, "-d", database, "-qAtc", sql], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def fill(database: str, size: int) -> None:
    rows = max(size // ROW_BYTES, 1000)
    psql("postgres", f'CREATE DATABASE "{database}"')
    psql(database, "CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, kind int, body text)")
    psql(database, "CREATE TABLE users (id int PRIMARY KEY, name text)")
    psql(database, "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 10000) g")
    step = 2_000_000
    for start in range(1, rows + 1, step):
        end = min(start + step - 1, rows)
        psql(
            database,
            f"INSERT INTO events SELECT g, now() - g * interval '1 second', g % 17, "
            f"md5(g::text) || md5((g * 7)::text) FROM generate_series({start}, {end}) g",
        )
    psql(database, "VACUUM ANALYZE")


def by_hand(database: str, folder: Path) -> float:
    dump, scratch = folder / "hand.dump", f"{database}_hand"
    started = time.perf_counter()
    subprocess.run(["pg_dump", *SERVER, "-Fc", "-f", str(dump), "-d", database], check=True)
    subprocess.run(["createdb", *SERVER, scratch], check=True)
    subprocess.run(["pg_restore", *SERVER, "--no-owner", "--no-acl", "-d", scratch, str(dump)], check=True)
    subprocess.run(["dropdb", *SERVER, scratch], check=True)
    took = time.perf_counter() - started
    dump.unlink()
    return took


def peak_rss_mb(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            peak[0] = max(peak[0], int(match.group(1)) / 1024)
        stop.wait(0.05)


def work_seconds(folder: Path) -> float:
    """Vigil's own backup and verification, from the newest manifest: the command less its
    start-up, from the backup's start to the verification's end (the verifying restore runs
    alongside the dump, so the two durations overlap)."""
    import json
    from datetime import datetime

    newest = max(folder.glob("*.dump.json"), key=lambda p: p.stat().st_mtime)
    data = json.loads(newest.read_text())
    verified = data["verified"]
    began = datetime.fromisoformat(verified["at"]) - datetime.fromisoformat(data["created_at"])
    return began.total_seconds() + float(verified["duration_s"])


def with_vigil(stack: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "backup", "run", "bench", "-c", str(stack)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop, peak = threading.Event(), [0.0]
    watcher = threading.Thread(target=peak_rss_mb, args=(process.pid, stop, peak))
    watcher.start()
    out, err = process.communicate()
    took = time.perf_counter() - started
    stop.set()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"vigil backup run failed: {err.strip() or out.strip()}")
    return took, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="200MB", help="The database's size, e.g. 200MB or 1GB.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each; medians are printed.")
    args = parser.parse_args()
    database = f"vigil_bench_backup_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="vigil-bench-backups-") as tmp:
        folder = Path(tmp)
        stack = folder / "vigil.yaml"
        stack.write_text(
            "backups:\n  bench:\n    engine: postgres\n"
            f"    source: postgresql://postgres@127.0.0.1:5432/{database}\n"
            '    schedule: "0 2 * * *"\n    destination: backups\n    keep: {count: 1}\n'
            "    verify: restore\n"
        )
        try:
            fill(database, size_bytes(args.size))
            on_disk = int(psql(database, "SELECT pg_database_size(current_database())"))
            print(f"database: {on_disk / 1e6:,.0f} MB on disk; load average {os.getloadavg()[0]:.1f}")
            hand, vigil, work, rss = [], [], [], []
            for _ in range(args.repeat):
                hand.append(by_hand(database, folder))
                took, peak = with_vigil(stack)
                vigil.append(took)
                work.append(work_seconds(folder / "backups"))
                rss.append(peak)
        finally:
            psql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            psql("postgres", f'DROP DATABASE IF EXISTS "{database}_hand" WITH (FORCE)')
    ratio = statistics.median(vigil) / statistics.median(hand)
    print(f"by hand (pg_dump -Fc + createdb + pg_restore + dropdb): {statistics.median(hand):.2f} s median")
    print(f"vigil backup run (verify: restore):                     {statistics.median(vigil):.2f} s median")
    print(f"  of which backup + verification (manifests):         {statistics.median(work):.2f} s median")
    print(f"ratio vigil / by hand: {ratio:.3f} (target <= {TARGET_RATIO:.2f})")
    print(f"ratio without vigil's start-up: {statistics.median(work) / statistics.median(hand):.3f}")
    print(f"vigil peak resident memory: {max(rss):.0f} MB (target < {TARGET_RSS_MB:.0f} MB)")
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
