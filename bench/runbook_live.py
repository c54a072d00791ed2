"""From a step printing a line to that line showing on the incident page.

Starts ``vigil up`` (a separate process, as users run it) on a stack whose failing check opens an
incident naming a runbook section; that section's one step prints ``--lines`` lines, each with
the moment it was printed (``time.time()``), one every ``--every`` seconds. Debian's chromium
(Playwright, never a downloaded browser) signs in, opens the incident page and clicks "Run
step 1"; a MutationObserver notes when each line is added to the page's output box
(``performance.timeOrigin + performance.now()``, the same wall clock). The latency of a line is
that moment minus the one it printed: the runner reading the pipe, the live registry, the
Server-Sent Events stream, the browser's EventSource and the page's script, end to end.

The same step is then run again and read by a plain SSE client (httpx-sse) instead of the
page: the transport's own share, the peer the page's figure is set against.

    python bench/runbook_live.py [--lines 300 --every 0.01]

Target: p99 under 250 ms on the page (issue 11).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port
from tests.server.conftest import runbook_stack
from tests.server.test_browser import chromium

VIGIL = str(Path(sys.executable).parent / "vigil")
TARGET_P99_MS = 250.0

RUNBOOK = """# Bench

## Print timestamps
Each line carries the moment it was printed.

```bash
python3 -u -c 'import os, time
for i in range(int(os.environ["BENCH_LINES"])):
    print(f"{time.time():.6f} {i}", flush=True)
    time.sleep(float(os.environ["BENCH_EVERY"]))'
```
"""

# Notes the moment each line is added to the output box (the page adds a frame's lines as one
# text node), before the browser paints it.
OBSERVE = """() => {
  window.arrivals = [];
  new MutationObserver((changes) => {
    const at = performance.timeOrigin + performance.now();
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType !== Node.TEXT_NODE) continue;
        for (const line of node.data.split("\\n")) if (line) window.arrivals.push([at, line]);
      }
    }
  }).observe(document.querySelector("li.step .run-box"), {childList: true, subtree: true});
}"""


def percentiles(latencies_ms: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    return statistics.median(latencies_ms), cuts[98], max(latencies_ms)


def latency(line: str, arrived_ms: float) -> float | None:
    stamp = line.split(" ", 1)[0]
    try:
        return arrived_ms - float(stamp) * 1000
    except ValueError:
        return None  # not one of the step's lines


def start(work: Path, lines: int, every: float) -> tuple[subprocess.Popen[bytes], str, str]:
    (work / "bench.md").write_text(RUNBOOK)
    env = {"BENCH_LINES": str(lines), "BENCH_EVERY": str(every)}
    (work / "vigil.yaml").write_text(runbook_stack("bench.md", "bench.md#print-timestamps", env))
    db = f"sqlite:///{work}/vigil.db"
    port = free_port()
    log = (work / "vigil.log").open("w")
    proc = subprocess.Popen(
        [VIGIL, "up", "-c", str(work / "vigil.yaml"), "--db", db, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    # `vigil token create` opens the store `vigil up` made; it never makes one itself.
    while time.monotonic() < deadline and not Path(db.removeprefix("sqlite:///")).is_file():
        time.sleep(0.1)
    made = subprocess.run(
        [VIGIL, "token", "create", "--role", "responder", "--name", "bench", "--db", db, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    token = str(json.loads(made.stdout)["token"])
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200 and answer.json():
                return proc, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"vigil up did not open the incident in 30 s; see {work / 'vigil.log'}")


def on_the_page(url: str, token: str, lines: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{url}/login")
            page.locator("#token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{url}/")
            page.goto(f"{url}/incidents/1")
            page.evaluate(OBSERVE)
            page.get_by_role("button", name="Run step 1").click()
            page.locator("li.step .run-state", has_text="exit").wait_for(timeout=lines * 1000 + 30_000)
            arrivals: list[list[object]] = page.evaluate("window.arrivals")
        finally:
            browser.close()
    found = [latency(str(text).rstrip("\n"), float(str(at))) for at, text in arrivals]
    return [x for x in found if x is not None]


def at_the_client(url: str, token: str) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    started = httpx.post(f"{url}/api/v1/runbooks/bench.md%23print-timestamps/run", json={}, headers=headers)
    started.raise_for_status()
    found: list[float] = []
    stream = url + started.json()["stream"]
    with httpx.Client(timeout=60, headers=headers) as client, connect_sse(client, "GET", stream) as source:
        for event in source.iter_sse():
            if event.event == "done":
                break
            if event.event == "line":
                arrived = time.time() * 1000
                value = latency(json.loads(event.data)["line"], arrived)
                if value is not None:
                    found.append(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=300, help="lines the step prints (300)")
    parser.add_argument("--every", type=float, default=0.01, help="seconds between them (0.01)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, token = start(Path(tmp), args.lines, args.every)
        try:
            page = on_the_page(url, token, args.lines)
            client = at_the_client(url, token)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"runbook live output: {args.lines} lines, one every {args.every * 1000:.0f} ms, vigil up on this machine"
    )
    for name, values in (("incident page (chromium)", page), ("SSE client (httpx-sse)", client)):
        if len(values) < args.lines:
            print(f"  {name}: only {len(values)} of {args.lines} lines arrived")
        p50, p99, worst = percentiles(values)
        print(f"  {name:26} n={len(values):4}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {worst:6.1f} ms")
        # The first lines are printed before the page's stream is open: they wait for the
        # button's answer, the swap and the connection, then arrive together.
        steady = values[10:]
        if steady:
            s50, s99, _ = percentiles(steady)
            print(f"  {'':26} after the first 10 lines: p50 {s50:6.1f} ms  p99 {s99:6.1f} ms")
    page_p99 = percentiles(page)[1]
    client_p99 = percentiles(client)[1]
    verdict = "met" if page_p99 < TARGET_P99_MS else "MISSED"
    print(
        f"  page p99 / target {TARGET_P99_MS:.0f} ms = {page_p99 / TARGET_P99_MS:.2f} ({verdict}); "
        f"page p99 / SSE client p99 = {page_p99 / max(client_p99, 0.001):.2f}"
    )


if __name__ == "__main__":
    main()
