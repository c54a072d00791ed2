"""The oracle: Vigil's PromQL answers must equal a real Prometheus' on the same samples.

A real Prometheus (Debian's 2.42) scrapes the demo target every second for ~35 s while traffic and
``/chaos`` give it counters, 5xx series that appear mid-way, a moving gauge and a latency
histogram; the target is also restarted once, so that a failed scrape leaves stale markers and
every counter resets. Every sample Prometheus stored is then read back through its API (a
``[10m]`` range query returns them with their exact timestamps) and loaded into Vigil's series
store; each expression below is evaluated at four instants by both, and the answers must agree:
the same label sets, values within 1e-9 relative (NaN equals NaN).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.demo.process import start_target_process, stop_target_process
from vigil.metrics.promql import Sample, compile_expr, evaluate
from vigil.metrics.ranges import RangeSeries, evaluate_range
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import SeriesStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COLLECT_SECONDS = 35.0
RESTART_AT = 12.0  # seconds into the traffic, the target stops…
DOWN_FOR = 2.5  # …long enough for two scrapes to fail
# Series Prometheus writes itself on every scrape attempt, failed or not: never stale.
SCRAPE_SERIES = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling"}
    | {"scrape_series_added"}
)
REL_TOL = 1e-9

EXPRESSIONS = [
    # selectors and matchers
    "http_requests_total",
    'http_requests_total{status=~"5.."}',
    'http_requests_total{path!="/metrics", method="GET"}',
    'http_requests_total{status!~"2..|5.."}',
    '{__name__=~"http_request_duration_seconds_(sum|count)", path=~"/api/.*"}',
    'up{job="demo", nope=""}',
    "demo_queue_depth offset 10s",
    # Unicode classes and case folding, as Go's regexp reads them
    'http_requests_total{path=~"/\\\\pL+", method=~"(?i)get"}',
    'count by (path) (http_requests_total{path=~"/[\\\\p{Ll}/]+(\\\\PL)?"})',
    # range functions
    "rate(http_requests_total[30s])",
    'rate(http_requests_total{status="500"}[10s])',
    "irate(http_requests_total[30s])",
    "increase(http_requests_total[20s])",
    "rate(http_requests_total[20s] offset 5s)",
    "delta(demo_queue_depth[30s])",
    "avg_over_time(demo_queue_depth[30s])",
    "min_over_time(scrape_duration_seconds[30s])",
    "max_over_time(demo_queue_depth[30s])",
    "sum_over_time(demo_queue_depth[15s])",
    "count_over_time(up[30s])",
    "quantile_over_time(0.9, scrape_duration_seconds[30s])",
    "stddev_over_time(scrape_duration_seconds[20s])",
    "changes(demo_queue_depth[30s])",
    "resets(http_requests_total[30s])",
    "count_over_time(http_requests_total[5s])",
    "last_over_time(demo_queue_depth[30s])",
    # histogram
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[30s])))",
    'histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{path="/api/answer"}[20s]))',
    "histogram_quantile(0.99, sum by (path, le) (increase(http_request_duration_seconds_bucket[30s])))",
    # aggregations
    'sum by (path) (rate(http_requests_total{status=~"5.."}[30s])) / sum by (path) (rate(http_requests_total[30s]))',
    "sum(rate(http_requests_total[30s]))",
    "avg by (path) (rate(http_requests_total[30s]))",
    "max without (method, status) (http_requests_total)",
    "min by (status) (http_requests_total)",
    "count without (status) (http_requests_total)",
    "topk(2, http_requests_total)",
    # All values tied: the winners depend on series order alone (Prometheus' is creation order,
    # which loading the store from Prometheus' unsorted answer reproduces).
    "topk(3, http_requests_total * 0)",
    "bottomk(2, http_requests_total * 0)",
    "topk by (path) (1, http_request_duration_seconds_bucket * 0)",
    "bottomk(2, rate(http_requests_total[30s]))",
    "quantile(0.5, http_requests_total)",
    "stddev by (path) (http_requests_total)",
    "group by (path) (http_requests_total)",
    # functions
    "absent(nope)",
    'absent(nope{job="demo", path=~"x"})',
    "absent(up)",
    'absent(http_requests_total{path="/api/answer", method="GET", status="200"})',
    "up == 0",
    "abs(delta(demo_queue_depth[30s]))",
    "clamp_max(rate(http_requests_total[30s]), 1)",
    "clamp_min(demo_queue_depth, 1)",
    "round(rate(http_requests_total[30s]), 0.5)",
    "sqrt(http_requests_total)",
    "time()",
    "time() - 60",
    "scalar(sum(up))",
    "vector(time())",
    # operators
    "-http_requests_total",
    "http_requests_total % 7",
    "2 ^ up",
    "http_requests_total > 20",
    "20 < http_requests_total",
    "rate(http_requests_total[30s]) > bool 1",
    "http_requests_total == bool 0",
    "http_request_duration_seconds_sum / http_request_duration_seconds_count",
    "http_requests_total / on(path) group_left sum by (path) (http_requests_total)",
    "http_requests_total / ignoring(method, status) group_left http_request_duration_seconds_count",
    "sum by (path) (http_requests_total) * on(path) group_right max by (path, status) (http_requests_total)",
    'http_requests_total and on(path) http_requests_total{status="500"}',
    'http_requests_total unless on(path) http_requests_total{status="500"}',
    'sum by (path) (http_requests_total) or on(path) http_requests_total{status="404"}',
    "up > bool on(job) (scrape_samples_scraped < 1000)",
    # subqueries (explicit, offset and default step; the default is Prometheus' 1m evaluation
    # interval, which the oracle's configuration leaves as it is)
    "max_over_time(rate(http_requests_total[10s])[30s:5s])",
    "avg_over_time(demo_queue_depth[20s:3s] offset 2s)",
    "rate(http_requests_total[20s:1s])",
    "min_over_time(sum by (path) (http_requests_total)[25s:2s])",
    # (offset -1m: the window spans a minute boundary after the first scrape whenever it runs)
    "count_over_time(up[2m:] offset -1m)",
    "max_over_time(deriv(demo_queue_depth[10s])[20s:4s]) > bool 0",
    # the @ modifier ({t0}: the oracle's first instant, {t3}: its last); start() and end() are
    # the evaluation time of an instant query
    "http_requests_total @ {t0}",
    "rate(http_requests_total[20s] @ {t3} offset 5s)",
    "max_over_time(demo_queue_depth[15s:2s] @ {t0})",
    "demo_queue_depth - demo_queue_depth @ start()",
    "sum(rate(http_requests_total[30s] @ end()))",
    # labels
    'label_replace(http_requests_total, "endpoint", "api-$1", "path", "/api/(.*)")',
    'label_replace(up, "job", "", "job", ".*")',
    'label_replace(http_requests_total, "x", "${1}-$2", "status", "(.)(.*)")',
    'label_join(http_requests_total, "key", ":", "method", "path", "status")',
    'count_values("status_code", sum by (status) (http_requests_total > 0))',
    'count_values by (path) ("n", round(http_requests_total / 10))',
    'count_values without (instance) ("v", up)',
    # trends and time
    "predict_linear(demo_queue_depth[30s], 60)",
    "predict_linear(http_requests_total[20s] offset 3s, 3600)",
    "deriv(demo_queue_depth[30s])",
    "deriv(http_request_duration_seconds_count[15s])",
    "holt_winters(demo_queue_depth[30s], 0.5, 0.3)",
    "holt_winters(http_requests_total[20s], 0.1, 0.9)",
    "timestamp(up)",
    "timestamp(demo_queue_depth offset 4s)",
    "timestamp(rate(http_requests_total[30s]))",
    "time() - timestamp(http_requests_total)",
    "minute()",
    "hour(vector(time()))",
    "day_of_week()",
    "day_of_month(timestamp(up))",
    "day_of_year()",
    "days_in_month(vector(1709251200))",
    "month(timestamp(up))",
    "year()",
    "minute(demo_queue_depth * 600)",
    # other functions dashboards use
    "absent_over_time(nope[30s])",
    "present_over_time(demo_queue_depth[30s])",
    "stdvar_over_time(demo_queue_depth[30s])",
    "idelta(demo_queue_depth[30s])",
    "clamp(demo_queue_depth, 2, 5)",
    "sgn(delta(demo_queue_depth[30s]))",
    "sin(demo_queue_depth) + cos(demo_queue_depth) + deg(atan(demo_queue_depth)) * pi()",
    # Prometheus' order: compared in order, by value (ties may be in any order in Go's sort)
    "sort(http_requests_total)",
    "sort_desc(rate(http_requests_total[30s]))",
    "sort(demo_queue_depth - 2)",
    "topk(3, http_requests_total)",
    "bottomk(4, rate(http_requests_total[30s]))",
    "topk by (path) (2, http_requests_total)",
    "sort_desc(sum by (path) (http_requests_total))",
]
# Expressions whose answer has an order in Prometheus: Vigil's must list its values alike.
ORDERED = ("sort(", "sort_desc(", "topk(", "bottomk(", "topk by")

# Empty answers by design; every other expression must select something at one instant at least,
# so that agreement is never agreement on nothing.
EMPTY_BY_DESIGN = frozenset({"absent(up)"})


@dataclass(frozen=True)
class Oracle:
    prometheus: str
    store: SeriesStore
    times: tuple[float, ...]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        # The oracle must run: install the peer stack rather than skip.
        subprocess.run(["bash", str(REPO / "scripts" / "install-peers.sh")], check=False)
        found = shutil.which("prometheus")
    if found is None:
        pytest.fail("prometheus is not installed and scripts/install-peers.sh could not install it")
    return found


def _drive(url: str, stop: threading.Event, paths: tuple[str, ...]) -> None:
    with httpx.Client(timeout=5.0) as client:
        while not stop.is_set():
            for path in paths:
                # A failed request is traffic too: the counters say what happened.
                with contextlib.suppress(httpx.HTTPError):
                    client.get(url + path)


def _chaos(url: str, stop: threading.Event) -> None:
    """Break the target in steps, so that 5xx series appear mid-way and latencies shift (the
    restart mends it, hence a second "fail")."""
    steps = [
        (6.0, {"mode": "fail", "error_rate": 0.5}),
        (17.0, {"mode": "fail", "error_rate": 0.5}),
        (21.0, {"mode": "slow", "latency_ms": 150}),
        (28.0, {"mode": "recover"}),
    ]
    start = time.monotonic()
    with httpx.Client(timeout=5.0) as client:
        for at, body in steps:
            if stop.wait(max(0.0, at - (time.monotonic() - start))):
                return
            with contextlib.suppress(httpx.HTTPError):
                client.post(url + "/chaos", json=body)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"prometheus exited with code {process.returncode} while starting:\n{tail}")
            try:
                if client.get(base + "/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"prometheus did not become ready within {timeout:g}s")


def _api(client: httpx.Client, base: str, query: str, at: float) -> Any:
    response = client.get(base + "/api/v1/query", params={"query": query, "time": f"{at:.3f}"})
    body = response.json()
    assert body["status"] == "success", f"{query}: prometheus says {body}"
    return body["data"]


def _with_stale_markers(
    stamps: list[float], values: list[float], scrapes: list[float]
) -> tuple[list[float], list[float]]:
    """Put back the stale markers range queries leave out, by Prometheus' own rule: a series
    that was in one scrape and is not in the next (failed or not) is marked stale at that next
    scrape's time."""
    present = set(stamps)
    samples = dict(zip(stamps, values, strict=True))
    before = False
    for t in scrapes:
        now = t in present
        if before and not now:
            samples[t] = STALE_NAN
        before = now
    ordered = sorted(samples)
    return ordered, [samples[t] for t in ordered]


def _load(client: httpx.Client, base: str, at: float, scrapes: list[float]) -> SeriesStore:
    """Every sample Prometheus stored, with its exact timestamp, into a fresh store."""
    store = SeriesStore()
    names = client.get(base + "/api/v1/label/__name__/values").json()["data"]
    for name in names:
        data = _api(client, base, f'{{__name__="{name}"}}[10m]', at)
        for series in data["result"]:
            stamps = [float(t) for t, _ in series["values"]]
            values = [float(v) for _, v in series["values"]]
            if name not in SCRAPE_SERIES:
                stamps, values = _with_stale_markers(stamps, values, scrapes)
            store.extend(series["metric"], stamps, values)
    return store


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    binary = _prometheus_binary()
    workdir = tmp_path_factory.mktemp("prometheus")
    target, url = start_target_process()
    target_port = int(url.rsplit(":", 1)[1])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: demo\n    static_configs: [{{targets: ['{url.removeprefix('http://')}']}}]\n"
    )
    command = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}"]
    command += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    command += ["--enable-feature=promql-negative-offset"]
    log = (workdir / "prometheus.log").open("wb")
    prometheus = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_drive, args=(url, stop, ("/api/answer",)), daemon=True) for _ in range(4)
    ]
    threads.append(threading.Thread(target=_drive, args=(url, stop, ("/health", "/nope")), daemon=True))
    threads.append(threading.Thread(target=_chaos, args=(url, stop), daemon=True))
    try:
        _wait_ready(base, prometheus, workdir / "prometheus.log")
        for thread in threads:
            thread.start()
        time.sleep(RESTART_AT)
        stop_target_process(target, grace=1.0)  # keep-alive traffic would hold uvicorn up to 5 s
        time.sleep(DOWN_FOR)
        target, _ = start_target_process(target_port)
        time.sleep(COLLECT_SECONDS - RESTART_AT - DOWN_FOR)
        stop.set()
        with httpx.Client(timeout=10.0) as client:
            now = round(time.time(), 3)
            up = _api(client, base, 'up{job="demo"}[10m]', now)["result"][0]["values"]
            scrapes = [float(t) for t, _ in up]
            failed = [float(t) for t, v in up if v == "0"]
            assert failed, "no scrape failed while the target was down: the oracle would miss staleness"
            # Four instants, at odd milliseconds so that no window edge sits on a scrape: before
            # the outage (long windows reach back past the first scrape), in it (series are
            # stale), after it (windows hold the counter resets), and at the end.
            times = (failed[0] - 1.653, failed[0] + 0.313, failed[-1] + 6.519, scrapes[-1] - 0.271)
            yield Oracle(base, _load(client, base, now, scrapes), tuple(round(t, 3) for t in times))
    finally:
        stop.set()
        prometheus.terminate()
        try:
            prometheus.wait(10)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()
        stop_target_process(target)
        log.close()


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL_TOL)


def _prometheus_answer(data: Any) -> dict[frozenset[tuple[str, str]], float] | float:
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    assert data["resultType"] == "vector", data
    return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}


def _vigil_answer(result: list[Sample] | float) -> dict[frozenset[tuple[str, str]], float] | float:
    if isinstance(result, float):
        return result
    answer = {frozenset(s.labels.items()): s.value for s in result}
    assert len(answer) == len(result), "Vigil returned two samples with the same labels"
    return answer


def test_the_oracle_covers_at_least_thirty_expressions() -> None:
    assert len(set(EXPRESSIONS)) >= 30


def _with_times(expr: str, oracle: Oracle) -> str:
    return expr.replace("{t0}", f"{oracle.times[0]:.3f}").replace("{t3}", f"{oracle.times[3]:.3f}")


@pytest.mark.parametrize("template", EXPRESSIONS, ids=EXPRESSIONS)
def test_vigil_answers_as_prometheus_does(oracle: Oracle, template: str) -> None:
    expr = _with_times(template, oracle)
    compiled = compile_expr(expr)
    selected = 0
    with httpx.Client(timeout=10.0) as client:
        for at in oracle.times:
            expected = _prometheus_answer(_api(client, oracle.prometheus, expr, at))
            result = evaluate(compiled, at, oracle.store)
            got = _vigil_answer(result)
            where = f"{expr!r} at {at:.3f}"
            selected += 1 if isinstance(expected, float) else len(expected)
            if isinstance(expected, float) or isinstance(got, float):
                assert isinstance(expected, float), f"{where}: Prometheus gave a vector, Vigil a scalar"
                assert isinstance(got, float), f"{where}: Prometheus gave a scalar, Vigil a vector"
                assert _same(got, expected), f"{where}: Vigil {got!r}, Prometheus {expected!r}"
                continue
            missing = [dict(k) for k in expected.keys() - got.keys()]
            extra = [dict(k) for k in got.keys() - expected.keys()]
            assert not missing and not extra, (
                f"{where}: series only Prometheus has {missing}, only Vigil {extra}"
            )
            wrong = {str(dict(k)): (got[k], expected[k]) for k in expected if not _same(got[k], expected[k])}
            assert not wrong, f"{where}: (Vigil, Prometheus) values differ for {wrong}"
            if any(word in expr for word in ORDERED):
                ours, theirs = list(got.values()), list(expected.values())
                in_order = all(_same(a, b) for a, b in zip(ours, theirs, strict=True))
                assert in_order, f"{where}: Vigil's order {ours}, Prometheus' {theirs}"
    assert selected or template in EMPTY_BY_DESIGN, (
        f"{expr!r} selected nothing at any instant: a vacuous check"
    )


# Range queries: ``@ start()`` and ``@ end()`` read at the query's window, subqueries step inside it.
RANGE_EXPRESSIONS = [
    "demo_queue_depth @ start()",
    "rate(http_requests_total[10s] @ end())",
    "demo_queue_depth - demo_queue_depth @ end()",
    "max_over_time(demo_queue_depth[20s:3s])",
    "timestamp(up)",
    "minute()",
]


@pytest.mark.parametrize("expr", RANGE_EXPRESSIONS, ids=RANGE_EXPRESSIONS)
def test_vigil_ranges_as_prometheus_does(oracle: Oracle, expr: str) -> None:
    start, end, step = oracle.times[0], oracle.times[3], 2.5
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
    with httpx.Client(timeout=10.0) as client:
        body = client.get(oracle.prometheus + "/api/v1/query_range", params=params).json()
    assert body["status"] == "success", f"{expr}: prometheus says {body}"
    expected = {
        frozenset(series["metric"].items()): [(float(t), float(v)) for t, v in series["values"]]
        for series in body["data"]["result"]
    }
    result = evaluate_range(compile_expr(expr), start, end, step, oracle.store)
    got = {
        frozenset(series.labels.items()): series.points
        for series in result
        if isinstance(series, RangeSeries)
    }
    assert got.keys() == expected.keys(), f"{expr}: series differ"
    assert expected, f"{expr!r} selected nothing: a vacuous check"
    for key, points in expected.items():
        ours = got[key]
        assert [t for t, _ in ours] == pytest.approx([t for t, _ in points]), (
            f"{expr} {dict(key)}: steps differ"
        )
        wrong = [(t, a, b) for (t, a), (_, b) in zip(ours, points, strict=True) if not _same(a, b)]
        assert not wrong, f"{expr} {dict(key)}: (time, Vigil, Prometheus) differ at {wrong}"
