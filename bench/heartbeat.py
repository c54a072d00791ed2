"""Heartbeat pings accepted by ``vigil up`` per second, and their latency, while checks run.

Starts ``vigil up`` (a separate process, as users run it) on a fresh SQLite store with
``--heartbeats`` heartbeat checks (keys given in the stack file) and ``--checks`` HTTP checks
against the fast local target (``bench/target.py``), lets the checks warm up, then drives
``/ping/<key>`` with ``wrk`` (Debian's; ``apt-get install -y wrk``), a Lua script turning over
the keys so that each key stays under its rate bound (10 a second). Prints pings accepted per
second (answered 200), wrk's p50/p90/p99, refusals (429 past a key's rate) and socket errors,
and the CPU time of the ``vigil up`` process per 1,000 pings (its checks' and store's share
included): the truer figure on a shared machine, where the rate follows what the others leave.
Target: 10,000 pings/s accepted with p99 under 20 ms while 1,000 checks run.

wrk, the target and Vigil share the machine's cores: on a 2-core machine the figure is a floor
for a server with a machine of its own. ``--rate`` paces wrk (its Lua ``delay()``) instead of
saturating, to read the latency at a given load.

    python bench/heartbeat.py [--heartbeats 2000 --checks 1000 --seconds 10 --connections 64]
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.target import start_target
from bench.vigil_up import vigil_up

TARGET_RATE = 10_000
TARGET_P99_MS = 20.0


def stack_text(keys: list[str], checks: int, target_port: int) -> str:
    lines = ["server: {public_read: true}", "services:", "  jobs:", "    checks:"]
    lines += [
        f"      j{i}: {{heartbeat: {{every: 1m, grace: 1m, key: {key}}}}}" for i, key in enumerate(keys)
    ]
    if checks:
        lines += ["  api:", "    checks:"]
        lines += [
            f"      t{i}: {{http: 'http://127.0.0.1:{target_port}/t/{i}', every: 10s, alert: false}}"
            for i in range(checks)
        ]
    return "\n".join(lines) + "\n"


def lua(keys: list[str], rate: int | None, connections: int) -> str:
    """wrk's script: each request pings the next key; paced to ``rate`` when given."""
    listed = ",".join(f'"{k}"' for k in keys)
    script = f"""
local keys = {{{listed}}}
local n = #keys
local i = 0
function setup(thread)
  thread:set("offset", i)
  i = i + 97
end
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format("GET", "/ping/" .. keys[(i % n) + 1])
end
"""
    if rate:
        script += f"function delay()\n  return {max(1, int(connections * 1000 / rate))}\nend\n"
    return script


def run_wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> dict[str, float]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", f"{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if total is None:
        raise SystemExit(f"wrk said nothing readable:\n{out}")
    span = float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    figures = {
        "requests": float(total.group(1)),
        "refused": float(refused.group(1)) if refused else 0.0,
        "errors": float(sum(int(n) for n in failed.groups())) if failed else 0.0,
    }
    figures["accepted_per_s"] = (figures["requests"] - figures["refused"]) / span
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return figures


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--heartbeats", type=int, default=2000, help="heartbeat checks (keys pinged in turn)")
    parser.add_argument("--checks", type=int, default=1000, help="HTTP checks running meanwhile, every 10s")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1 leaves a core to Vigil)")
    parser.add_argument("--rate", type=int, default=None, help="pace wrk to about this many pings/s")
    parser.add_argument("--warm", type=float, default=15.0, help="seconds of checks before the load")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="vigil-heartbeat-"))
    keys = [secrets.token_urlsafe(18) for _ in range(args.heartbeats)]
    target, target_port = start_target()
    try:
        stack = work / "vigil.yaml"
        stack.write_text(stack_text(keys, args.checks, target_port))
        script = work / "ping.lua"
        script.write_text(lua(keys, args.rate, args.connections))
        with vigil_up(stack, work) as (url, _headers):
            vigil = next(p for p in psutil.Process().children() if "vigil" in " ".join(p.cmdline()))
            time.sleep(args.warm)
            run_wrk(url, script, 2, args.connections, args.threads)  # warm the connections
            before = _cpu(vigil)
            f = run_wrk(url, script, args.seconds, args.connections, args.threads)
            f["cpu_s"] = _cpu(vigil) - before
    finally:
        target.terminate()
        target.wait(timeout=10)
    met = f["accepted_per_s"] >= TARGET_RATE and f.get("p99", 1e9) < TARGET_P99_MS
    print(
        f"{args.heartbeats} heartbeat checks, {args.checks} HTTP checks every 10s, wrk {args.threads} thread(s) "
        f"x {args.connections} connections for {args.seconds}s"
        + (f" paced to {args.rate}/s" if args.rate else "")
    )
    print(
        f"accepted {f['accepted_per_s']:.0f} pings/s  p50 {f.get('p50', 0):.1f} ms  p90 {f.get('p90', 0):.1f} ms  "
        f"p99 {f.get('p99', 0):.1f} ms  refused {f['refused']:.0f}  socket errors {f['errors']:.0f}"
    )
    print(
        f"vigil CPU {f['cpu_s'] * 1000 / max(f['requests'] / 1000, 1e-9):.1f} ms per 1,000 pings "
        f"({f['cpu_s'] / args.seconds:.0%} of a core over the run; the checks' share included)"
    )
    print(
        f"target {TARGET_RATE} pings/s with p99 < {TARGET_P99_MS:.0f} ms: {'met' if met else 'MISSED'} "
        f"({f['accepted_per_s'] / TARGET_RATE:.2f}x the rate, p99 {f.get('p99', 0) / TARGET_P99_MS:.2f}x the bound)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
