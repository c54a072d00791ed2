"""Validating stack files of 100 to 40,000 services: time, CPU and peak memory, and how they grow.

    python bench/validate.py                          # 100, 1,000, 10,000, 40,000 services, 3 runs each
    python bench/validate.py --sizes 1000,40000 --runs 5

Each file has, per service, an HTTP and a TCP check (one with its own interval) and a dependency
on an earlier service — about 150 bytes a service, so 40,000 services is a 6 MB file. Each size
is validated in fresh processes, two ways:

- ``vigil validate --config FILE``, as a user runs it: wall time, CPU time and peak RSS of the
  process (``os.wait4``), Python start-up and imports included;
- ``load_stack(FILE)`` alone in a process that has imported it already: the loader's own wall
  and CPU time, and that process' peak RSS.

Figures are medians over ``--runs``. Linearity is the loader's CPU time per service at the
largest size over that at the smallest (1.0 is perfectly linear; CPU time, since wall time on a
shared machine moves with its load). The run stops adding runs past ``--budget`` seconds.
Target (issue 10): linear, and under 3 s and 200 MB for ``vigil validate`` at 40,000 services.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
LOADER = """
import json, resource, sys, time
from vigil.config.load import load_stack
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
wall, used = time.perf_counter(), cpu()
stack = load_stack(sys.argv[1], environ={})
wall, used = time.perf_counter() - wall, cpu() - used
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"wall": wall, "cpu": used, "rss": rss, "services": len(stack.model.services)}))
"""


def stack_file(services: int) -> str:
    lines = ["services:"]
    for i in range(services):
        host = f"10.{i // 62500 % 256}.{i // 250 % 250}.{i % 250 + 1}"
        lines.append(f"  svc-{i:05d}:")
        if i:
            lines.append(f"    depends_on: [svc-{i // 2:05d}]")
        lines.append("    checks:")
        lines.append(f'      health: {{http: "http://{host}:8080/health", every: 30s}}')
        lines.append(f'      port: {{tcp: "{host}:5432"}}')
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    wall: float
    cpu: float
    rss: int


def run_cli(file: Path) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "validate", "--config", str(file)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"vigil validate {file} exited {proc.returncode}: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def run_loader(file: Path, services: int) -> Run:
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(file)], env=ENV, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout)
    if got["services"] != services:
        raise RuntimeError(f"{file}: loaded {got['services']} services, expected {services}")
    return Run(got["wall"], got["cpu"], got["rss"])


def median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        int(statistics.median(r.rss for r in runs)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,40000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=100.0, help="seconds after which no run is added")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    began = time.monotonic()
    rows: list[tuple[int, float, Run, Run]] = []
    print(f"{'services':>9} {'MB':>5} | {'validate s':>10} {'cpu s':>6} {'RSS MB':>6} | "
          f"{'loader s':>8} {'cpu s':>6} {'RSS MB':>6} {'cpu us/svc':>10}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="vigil-bench-validate-") as tmp:
        for services in sizes:
            file = Path(tmp) / f"stack-{services}.yaml"
            file.write_text(stack_file(services))
            cli: list[Run] = []
            loader: list[Run] = []
            for i in range(args.runs):
                if i and time.monotonic() - began > args.budget:
                    break
                cli.append(run_cli(file))
                loader.append(run_loader(file, services))
            c, ld = median(cli), median(loader)
            rows.append((services, file.stat().st_size / 1e6, c, ld))
            print(
                f"{services:>9,} {file.stat().st_size / 1e6:>5.1f} | {c.wall:>10.2f} {c.cpu:>6.2f} "
                f"{c.rss / 2**20:>6.0f} | {ld.wall:>8.2f} {ld.cpu:>6.2f} {ld.rss / 2**20:>6.0f} "
                f"{ld.cpu / services * 1e6:>10.1f}",
                flush=True,
            )
    large = rows[-1]
    print()
    # Against each smaller size: at 100 services fixed costs (first validation) still weigh.
    for small in rows[:-1]:
        ratio = (large[3].cpu / large[0]) / (small[3].cpu / small[0])
        print(
            f"linearity: loader CPU per service at {large[0]:,} / at {small[0]:,} = {ratio:.2f} (1.0 = linear)"
        )
    wall, cpu, rss = large[2].wall, large[2].cpu, large[2].rss / 2**20
    verdict = "met" if wall < 3 and rss < 200 else "NOT met"
    print(
        f"vigil validate at {large[0]:,} services: {wall:.2f} s wall, {cpu:.2f} s CPU, {rss:.0f} MB peak "
        f"(target < 3 s and < 200 MB: {verdict}); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs; {time.monotonic() - began:.0f} s in all"
    )


if __name__ == "__main__":
    main()
