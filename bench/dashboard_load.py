"""Dashboard and API latency under load with 10,000 checks configured.

Starts ``vigil up`` (a separate process, as users run it) on a stack of N HTTP checks against
the local bench target, lets the checks run for a while so that the board is full, then
drives each page with ``wrk`` (Debian's; ``apt-get install wrk``) at about 200 requests/s and
prints wrk's latency percentiles for each.

wrk has no fixed-rate mode; a Lua ``delay()`` per connection paces it: ``c`` connections
each waiting ``d`` ms between requests make roughly ``c / (d + latency)`` requests per second.

    python bench/dashboard_load.py [--checks 10000 --rate 200 --seconds 15]

Saturation mode (``--saturate``): the highest request rate each of ``/``, ``/api/v1/incidents``
and ``/api/v1/checks`` sustains. Debian's wrk has no ``-R`` (wrk2's fixed rate), so each page is
driven unthrottled with ``--connections`` (64) connections for ``--seconds`` (10): every
connection sends its next request as soon as the last is answered, so the rate wrk reports is
the rate the server sustains, and its p99 the latency there. ``--failing`` (100) checks point at
a path the target answers 404 and alert after one failure, so the board has failing rows and
the incident list that many open incidents. wrk and Vigil share the machine's cores: the
figures are a floor for a server on a machine of its own.

    python bench/dashboard_load.py --saturate [--checks 10000 --connections 64 --seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.target import start_target

VIGIL = str(Path(sys.executable).parent / "vigil")
CONNECTIONS = 8
TARGET_RPS = 200  # what issue 10 found in all under 200 clients, and the floor per page now
SATURATED = ["/", "/api/v1/incidents", "/api/v1/checks"]


def stack_text(port: int, n: int, every: int, failing: int = 0) -> str:
    """N checks in services of 1,000; the first ``failing`` of every service's share fail (the
    target answers 404 off ``/t/``) and open an incident at their first failure. Reading is open
    so that the load is the pages' and the API's, not the token lookup's."""
    lines = ["engine: {concurrency: 500}", "server: {public_read: true}", "services:"]
    spread = max(1, n // failing) if failing else 0
    for block in range(0, n, 1000):
        lines.append(f"  svc{block // 1000}:\n    checks:")
        for i in range(block, min(n, block + 1000)):
            if spread and i % spread == 0 and i // spread < failing:
                policy, path = "{after: 1}", f"/missing/{i}"
            else:
                policy, path = "false", f"/t/{i}"
            lines.append(
                f"      t{i}: {{http: 'http://127.0.0.1:{port}{path}', every: {every}s, alert: {policy}}}"
            )
    return "\n".join(lines) + "\n"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vigil up exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("vigil up did not become ready")


def wrk(
    url: str, rate: int | None, seconds: int, workdir: Path, connections: int = CONNECTIONS
) -> dict[str, float]:
    """wrk's figures for ``url``: paced to about ``rate`` requests/s, or unthrottled for None."""
    command = ["wrk", "-t1" if rate else "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if rate:
        delay_ms = max(1, int(connections * 1000 / rate))
        script = workdir / "pace.lua"
        script.write_text(f"function delay()\n  return {delay_ms}\nend\n")
        command += ["-s", str(script)]
    # A request still unanswered when the run ends counts as a timeout, not a latency: wrk's
    # default 2 s timeout would hide a p99 past it, so give it the whole run.
    command += ["--timeout", f"{seconds}s", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non2xx"] = float(errors.group(1)) if errors else 0.0
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    figures["errors"] = float(sum(int(n) for n in failed.groups())) if failed else 0.0
    return figures


def saturate(url: str, args: argparse.Namespace, workdir: Path) -> None:
    print(
        f"saturation: wrk unthrottled, {args.connections} connections, {args.seconds}s per page; "
        f"target {TARGET_RPS} req/s per page"
    )
    print(
        f"{'page':<24} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}  target"
    )
    for page in SATURATED:
        wrk(url + page, None, 2, workdir, args.connections)  # warm: connections, caches, JIT-less paths
        f = wrk(url + page, None, args.seconds, workdir, args.connections)
        met = "met" if f["rps"] >= TARGET_RPS and not f["non2xx"] and not f["errors"] else "MISSED"
        print(
            f"{page:<24} {f['rps']:>7.0f} {f.get('p50', 0):>8.1f} {f.get('p90', 0):>8.1f} "
            f"{f.get('p99', 0):>8.1f} {f['non2xx']:>8.0f} {f['errors']:>7.0f}  {met} "
            f"({f['rps'] / TARGET_RPS:.1f}x)",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=30, help="check interval, seconds")
    parser.add_argument("--rate", type=int, default=200, help="requests per second per page")
    parser.add_argument("--seconds", type=int, default=None, help="wrk duration per page (15; 10 saturating)")
    parser.add_argument("--saturate", action="store_true", help="the highest rate each page sustains")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections when saturating")
    parser.add_argument(
        "--failing", type=int, default=None, help="checks that fail and open incidents (0; 100 saturating)"
    )
    parser.add_argument(
        "--warm", type=float, default=None, help="seconds of checks before load (default: one interval)"
    )
    parser.add_argument(
        "--pages", nargs="+", default=None, help="paths to load (default: the overview, the API and /metrics)"
    )
    args = parser.parse_args()
    args.seconds = args.seconds or (10 if args.saturate else 15)
    failing = args.failing if args.failing is not None else (100 if args.saturate else 0)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="vigil-dash-"))
    target, target_port = start_target()
    vigil: subprocess.Popen[bytes] | None = None
    try:
        stack = workdir / "vigil.yaml"
        stack.write_text(stack_text(target_port, args.checks, args.every, failing))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        vigil = subprocess.Popen(
            [VIGIL, "up", "-c", str(stack), "--db", f"sqlite:///{workdir}/vigil.db", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "vigil.log").open("w"),
            env={**os.environ},
        )
        wait_ready(url, vigil, 60)
        warm = args.every if args.warm is None else args.warm
        print(
            f"vigil up with {args.checks} checks every {args.every}s ({failing} failing); "
            f"warming {warm:g}s so every check has run"
        )
        time.sleep(warm)
        if args.saturate:
            saturate(url, args, workdir)
            return 0
        pages = args.pages or [
            "/",
            "/api/v1/incidents",
            "/api/v1/checks/svc3.t3000",
            "/api/v1/checks?limit=100",
            "/metrics",
        ]
        print(f"{'page':<32} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for page in pages:
            f = wrk(url + page, args.rate, args.seconds, workdir)
            print(
                f"{page:<32} {f['rps']:>7.0f} {f.get('p50', 0):>8.2f} {f.get('p90', 0):>8.2f} "
                f"{f.get('p99', 0):>8.2f} {f['non2xx']:>8.0f}",
                flush=True,
            )
        return 0
    finally:
        if vigil is not None:
            vigil.terminate()
            vigil.wait(timeout=30)
        target.kill()
        target.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
