"""``vigil import`` of a 5 MB runbook, and reading 1,000 runbook files: time and peak memory.

    python bench/runbook_import.py                       # 5 MB, 1,000 files, 3 runs each
    python bench/runbook_import.py --mb 1 --files 200 --runs 5

The runbooks are the two real ones in ``../shared/runbooks`` when they are there, each copy
varied (its hosts, its issue titles, its thresholds) so that the importer sees new services and
sections rather than one repeated; without them, a generated runbook of the same parts (a
service table, a health curl with its expected JSON, an alert table, a severity table, a window,
a checklist, a box diagram) stands in.

Each run is a fresh process: wall and CPU time of the work alone (imports excluded) and the
process' peak RSS (``ru_maxrss``, the interpreter and its imports included). One more run of
the import under ``tracemalloc`` gives the peak of Python's own allocations. Figures are
medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "runbooks"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
MEASURE = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
from vigil.config.load import load_stack
from vigil.runbooks.importer import draft_stack
from vigil.runbooks.library import load_library
from vigil.runbooks.parse import read_markdown
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
what, path, traced = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
if traced:
    tracemalloc.start()
wall, used = time.perf_counter(), cpu()
if what == "import":
    out = draft_stack(path, path.parent / "vigil.yaml").text
    size = {"draft_bytes": len(out.encode())}
elif what == "markdown":
    size = {"tokens": len(read_markdown(path).tokens)}
else:
    library = load_library(load_stack(path, environ={}))
    size = {"files": len(library.runbooks), "sections": len(library.sections)}
wall, used = time.perf_counter() - wall, cpu() - used
peak = tracemalloc.get_traced_memory()[1] if traced else 0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"wall": wall, "cpu": used, "rss": rss, "traced": peak, **size}))
"""

GENERATED = """\
# Service {i} runbook

## Key Services

| Service | Port | Health Check | Purpose |
|---------|------|--------------|---------|
| api-{i} | 8080 | `/health` | Web API |
| worker-{i} | N/A | Redis connection | Background jobs |
| PostgreSQL | 5432 | `SELECT 1` | Data |

## Architecture

```
+-----------+       +-----------+
|  api-{i}  | ----> |  db-{i}   |
+-----------+       +-----------+
```

## Health

```bash
curl https://api-{i}.example.com/health

# Expected response:
{{"status": "healthy", "db": "ok", "version": "1.{i}.0"}}
```

## Alerting Rules

| Condition | Severity | Action |
|-----------|----------|--------|
| Error rate > {p}% for 5 min | Critical | Page on-call |
| p95 latency > {s}s for 10 min | Warning | Notify team |
| Disk usage > 9{p}% | Warning | Notify team |

## Severity Levels

| Level | Description | Response Time |
|-------|-------------|---------------|
| SEV1 | Outage | {p} minutes |
| SEV2 | Degraded | 1 hour |

## Maintenance Windows

Maintenance: Sundays 2:00 AM - 4:00 AM UTC

- [ ] Announce maintenance {i}
- [ ] Backup database

## Issue: api-{i} returns 502

```bash
psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity"
```
"""


def variant(i: int) -> str:
    """One runbook, the ``i``-th variation: the shared ones with their names moved, or a generated one."""
    shared = sorted(SHARED.glob("*.md")) if SHARED.is_dir() else []
    if not shared:
        return GENERATED.format(i=i, p=i % 9 + 1, s=i % 4 + 1)
    text = shared[i % len(shared)].read_text(encoding="utf-8")
    for old, new in (
        ("echo-ai-production", f"echo-ai-production-{i}"),
        ("api.physical-ai-textbook", f"api-{i}.physical-ai-textbook"),
        ("Issue:", f"Issue {i}:"),
        ("> 5%", f"> {i % 9 + 1}%"),
    ):
        text = text.replace(old, new)
    return text


def big_runbook(megabytes: float) -> str:
    parts, size, i = [], 0, 0
    while size < megabytes * 1024 * 1024:
        parts.append(variant(i))
        size += len(parts[-1].encode())
        i += 1
    return "\n".join(parts)


def measure(what: str, path: Path, *, traced: bool = False) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, what, str(path), "1" if traced else "0"],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def report(title: str, runs: list[dict[str, float]], extra: str = "") -> None:
    print(
        f"{title:<44} wall {median(runs, 'wall'):7.2f} s   cpu {median(runs, 'cpu'):7.2f} s   "
        f"peak RSS {median(runs, 'rss') / 2**20:6.0f} MiB{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=5.0, help="size of the big runbook, in MiB")
    parser.add_argument("--files", type=int, default=1000, help="how many runbook files to read")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = "the shared runbooks, varied" if SHARED.is_dir() else "generated runbooks"
    print(f"runbooks from {source}; medians of {args.runs} runs, each in a fresh process")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        big = base / "big" / "runbook.md"
        big.parent.mkdir()
        big.write_text(big_runbook(args.mb), encoding="utf-8")
        mib = big.stat().st_size / 2**20
        markdown = [measure("markdown", big) for _ in range(args.runs)]
        report(f"markdown-it tokens of a {mib:.1f} MiB runbook", markdown)
        runs = [measure("import", big) for _ in range(args.runs)]
        traced = measure("import", big, traced=True)
        report(
            f"vigil import of a {mib:.1f} MiB runbook",
            runs,
            f"   Python peak {traced['traced'] / 2**20:.0f} MiB   draft {runs[0]['draft_bytes'] / 1024:.0f} KiB",
        )
        folder_of_files = base / "many" / "runbooks"
        folder_of_files.mkdir(parents=True)
        total = 0
        for i in range(args.files):
            total += (folder_of_files / f"runbook-{i:04d}.md").write_text(variant(i), encoding="utf-8")
        stack = base / "many" / "vigil.yaml"
        stack.write_text("runbooks: [runbooks/*.md]\n", encoding="utf-8")
        runs = [measure("library", stack) for _ in range(args.runs)]
        per_file = median(runs, "wall") / args.files * 1000
        report(
            f"reading {args.files:,} runbooks ({total / 2**20:.1f} MiB)",
            runs,
            f"   {per_file:.1f} ms a file, {int(runs[0]['sections']):,} sections",
        )


if __name__ == "__main__":
    main()
