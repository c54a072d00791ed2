"""Dashboard and API latency under load with 10,000 checks configured.

Starts ``vigil up`` (a separate process, as users run it) on a stack of N HTTP checks against
the local bench target, lets the checks run for a while so that the board is full, then
drives each page with ``wrk`` (Debian's; ``apt-get install wrk``) at about 200 requests/s and
prints wrk's latency percentiles for each.

wrk has no fixed-rate mode; a Lua ``delay()`` per connection paces it: ``c`` connections
each waiting ``d`` ms between requests make roughly ``c / (d + latency)`` requests per second.

    python bench/dashboard_load.py [--checks 10000 --rate 200 --seconds 15]
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


def stack_text(port: int, n: int, every: int) -> str:
    # Reading is open here so the load is the pages' and the API's, not the token lookup's.
    lines = ["engine: {concurrency: 500}", "server: {public_read: true}", "services:"]
    for block in range(0, n, 1000):
        lines.append(f"  svc{block // 1000}:\n    checks:")
        for i in range(block, min(n, block + 1000)):
            lines.append(
                f"      t{i}: {{http: 'http://127.0.0.1:{port}/t/{i}', every: {every}s, alert: false}}"
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


def wrk(url: str, rate: int, seconds: int, workdir: Path) -> dict[str, float]:
    delay_ms = max(1, int(CONNECTIONS * 1000 / rate))
    script = workdir / "pace.lua"
    script.write_text(f"function delay()\n  return {delay_ms}\nend\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=30, help="check interval, seconds")
    parser.add_argument("--rate", type=int, default=200, help="requests per second per page")
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per page")
    parser.add_argument(
        "--warm", type=float, default=None, help="seconds of checks before load (default: one interval)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="vigil-dash-"))
    target, target_port = start_target()
    vigil: subprocess.Popen[bytes] | None = None
    try:
        stack = workdir / "vigil.yaml"
        stack.write_text(stack_text(target_port, args.checks, args.every))
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
            f"vigil up with {args.checks} checks every {args.every}s; warming {warm:g}s so every check has run"
        )
        time.sleep(warm)
        pages = [
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
