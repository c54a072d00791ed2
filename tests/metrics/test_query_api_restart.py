"""The oracle across a ``kill -9``: a real Prometheus and a real ``vigil up`` scrape the same
target; Vigil is killed mid-way and started again on the same store, and its
``/prometheus/api/v1/query_range`` over a window spanning the restart answers as Prometheus' does.

Two scrapers never sample at the same instants, so the target stamps its samples itself (each
series a sample every 2 s, with that moment's timestamp): both stores then hold the very same
samples, but those Vigil missed while it was down and those its log had not yet written. The
target notes which samples it served to whom and when: Vigil must hold every sample it was served
but those of the last second before the kill (its log writes a batch a second), none it was not,
each with Prometheus' value; the answers are then compared at every step whose window holds the
same samples in both, before the kill and after the restart alike. A sample served to a scrape
that Vigil itself reports as failed (``up`` 0: the answer came after its timeout on a busy
machine) was not received, so it may be missing too.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.metrics.test_promql_oracle import _prometheus_binary, _wait_ready
from tests.server.conftest import VigilProcess

pytestmark = pytest.mark.slow

EVERY = 2.0  # seconds between a series' samples, as the target stamps them
REL_TOL = 1e-9
# Each expression with the longest span of samples one of its points reads (its range).
EXPRESSIONS = [
    ("story_requests_total", 0),
    ("rate(story_requests_total[10s])", 10),
    ("increase(story_requests_total[15s])", 15),
    ("sum by (path) (rate(story_requests_total[15s]))", 15),
    ("resets(story_requests_total[15s])", 15),
    ("avg_over_time(story_queue_depth[15s])", 15),
    ("max_over_time(story_queue_depth[10s])", 10),
    ("deriv(story_queue_depth[10s])", 10),
    ("story_requests_total > 20", 0),
    ("topk(1, story_queue_depth)", 0),
    ("scalar(sum(story_queue_depth))", 0),
]
RAW = ("story_requests_total", "story_queue_depth")
SCRAPED_FOR = 24.0  # seconds of samples before the kill, and again after the restart


def stamp(now: float) -> float:
    """The timestamp of the samples the target serves at ``now``."""
    return math.floor(now / EVERY) * EVERY


def exposition(now: float, born: float) -> str:
    """The target's samples of the moment ``now`` falls in: counters (one resets), gauges."""
    at = stamp(now)
    age = at - born
    requests_b = 1.5 * age if age < 24 else 0.5 * (age - 24)
    lines = [
        "# TYPE story_requests_total counter",
        f'story_requests_total{{path="/a"}} {2.5 * age + (at // EVERY) % 3} {int(at * 1000)}',
        f'story_requests_total{{path="/b"}} {requests_b} {int(at * 1000)}',
        "# TYPE story_queue_depth gauge",
        f'story_queue_depth{{queue="q1"}} {(at * 7) % 11} {int(at * 1000)}',
        f'story_queue_depth{{queue="q2"}} {((at // EVERY) % 5) * 1.25} {int(at * 1000)}',
    ]
    return "\n".join(lines) + "\n"


class StampingTarget(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.born = stamp(time.time())
        # Who scraped ("vigil", "prometheus") → each timestamp served → when it was first served.
        self.served: dict[str, dict[float, float]] = {"vigil": {}, "prometheus": {}}
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StampingTarget

    def do_GET(self) -> None:
        now = time.time()
        body = exposition(now, self.server.born).encode()
        scraper = "vigil" if self.headers.get("User-Agent", "").startswith("vigil/") else "prometheus"
        with self.server.lock:
            self.server.served[scraper].setdefault(stamp(now), now)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[StampingTarget]:
    server = StampingTarget()
    yield server
    server.shutdown()


@pytest.fixture
def prometheus(tmp_path: Path, target: StampingTarget) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs:\n  - job_name: story\n    static_configs: [{{targets: ['{target.address}']}}]\n"
    )
    command = [_prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}"]
    command += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


Matrix = dict[frozenset[tuple[str, str]], dict[float, float]]


def matrix(base: str, expr: str, start: float, end: float, step: float) -> Matrix:
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    body = httpx.get(f"{base}/api/v1/query_range", params=params, timeout=30).json()
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix", f"{base}: {body}"
    return {
        frozenset(s["metric"].items()): {float(t): float(v) for t, v in s["values"]}
        for s in body["data"]["result"]
    }


def samples(base: str, start: float, end: float) -> dict[tuple[frozenset[tuple[str, str]], float], float]:
    """Every sample of the target's series, by series and timestamp: at steps a quarter of the
    samples' spacing apart, each sample is the latest one at some step."""
    found = {}
    for name in RAW:
        stamps = matrix(base, f"timestamp({name})", start, end, EVERY / 4)
        values = matrix(base, name, start, end, EVERY / 4)
        for key, at_step in stamps.items():
            labels = key | {("__name__", name)}
            for step, stamp in at_step.items():
                found[(labels, round(stamp, 3))] = values[key | {("__name__", name)}][step]
    return found


def failed_scrapes(base: str, start: float, end: float) -> list[float]:
    """When the scrapes began that Vigil reports as failed: the timestamps of its ``up`` samples of 0."""
    stamps = matrix(base, "timestamp(up == 0)", start, end, 0.25)
    return sorted({round(t, 3) for points in stamps.values() for t in points.values()})


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


@pytest.fixture
def vigil(tmp_path: Path, target: StampingTarget) -> Iterator[VigilProcess]:
    """``vigil up`` scraping the target; ended after the test, whatever its outcome."""
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        "server: {public_read: true}\n"
        f"services:\n  story:\n    metrics: {{url: 'http://{target.address}/metrics', every: 1s}}\n"
        f"    checks:\n      port: {{tcp: '{target.address}', every: 5s}}\n"
    )
    process = VigilProcess(stack, f"sqlite:///{tmp_path}/vigil.db")
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.kill()


def test_query_range_across_a_kill_answers_as_prometheus_does(
    vigil: VigilProcess, target: StampingTarget, prometheus: str
) -> None:
    started = time.time()
    vigil.start(wait=90)
    time.sleep(SCRAPED_FOR)
    killed_at = time.time()
    vigil.kill()
    vigil.start(wait=90)
    ready_again = time.time()
    time.sleep(SCRAPED_FOR)
    # Settled: a sample is scraped up to EVERY after its timestamp, and one more scrape may be under way.
    end = time.time() - EVERY - 1.5
    api = f"{vigil.url}/prometheus"

    # What the kill cost: only the samples scraped in the last second before it (the log writes a
    # batch a second), and of course those of the moments Vigil was down.
    theirs, mine = samples(prometheus, started - EVERY, end), samples(api, started - EVERY, end)
    with target.lock:
        # Only what some step reads can be found: the steps (a quarter of EVERY apart, from the
        # start as sent) may stop short of ``end`` by up to one step.
        first_ms, end_ms, step_ms = (
            round((started - EVERY) * 1000),
            round(end * 1000),
            round(EVERY / 4 * 1000),
        )
        last_ms = first_ms + (end_ms - first_ms) // step_ms * step_ms
        served = {
            who: {t: at for t, at in seen.items() if t * 1000 <= last_ms}
            for who, seen in target.served.items()
        }
    wrong = [(k, v, theirs[k]) for k, v in mine.items() if k in theirs and not same(v, theirs[k])]
    assert not wrong, f"(sample, Vigil's value, Prometheus') differ: {wrong[:5]}"
    invented = {t for _, t in mine.keys() - theirs.keys() if t in served["prometheus"]} | (
        {t for _, t in mine} - served["vigil"].keys()
    )
    assert not invented, f"Vigil holds samples it was never served, or Prometheus lacks: {sorted(invented)}"
    held = {t for _, t in mine}
    failed = failed_scrapes(api, started - EVERY, end + EVERY)
    lost = {
        t: at
        for t, at in served["vigil"].items()
        if t not in held and not any(at - 1.5 <= began <= at for began in failed)
    }
    assert all(killed_at - 2.0 <= at <= killed_at for at in lost.values()), (
        f"killed at {killed_at:.3f}, ready again at {ready_again:.3f}; (timestamp, first scraped) "
        f"lost: {sorted(lost.items())}; scrapes Vigil reports failed: {failed}"
    )
    # Samples stamped while Vigil was down may be missing from its answers, but need not be: a
    # restart quicker than a stamp's 2 s misses none (``lost`` above holds what it missed).
    assert len(mine) > 2 * SCRAPED_FOR / EVERY * 4 * 0.8  # both sides of the kill, four series
    first = min(held)

    # The answers, at each step whose window holds the same samples in both.
    missing = sorted({t for _, t in theirs.keys() ^ mine.keys()})
    start, step = first, 0.7
    for expr, span in EXPRESSIONS:
        expected, got = matrix(prometheus, expr, start, end, step), matrix(api, expr, start, end, step)
        steps = sorted({t for points in expected.values() for t in points})
        reach = span + EVERY + 1.0  # an instant selector reads the latest sample up to EVERY back
        alike = [t for t in steps if not any(t - reach <= m <= t for m in missing) and t - reach >= start]
        before = [t for t in alike if t < killed_at]
        after = [t for t in alike if t > ready_again]
        assert len(before) >= 5 and len(after) >= 5, f"{expr}: too few steps to compare {before} {after}"
        for key in expected.keys() | got.keys():
            theirs_at, mine_at = expected.get(key, {}), got.get(key, {})
            differ = [
                (t, mine_at.get(t), theirs_at.get(t))
                for t in alike
                if (t in theirs_at) != (t in mine_at)
                or (t in theirs_at and not same(theirs_at[t], mine_at[t]))
            ]
            assert not differ, f"{expr} {dict(key)}: (time, Vigil, Prometheus) differ at {differ[:5]}"
