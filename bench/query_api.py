"""Range queries over HTTP: Vigil's ``/prometheus/api/v1/query_range`` beside a real Prometheus'.

    python bench/query_api.py                 # 100 series, 24 h at 15 s, 5 runs per query
    python bench/query_api.py --runs 3 --hours 6

Data: ``--series`` counters ``http_requests_total{job, instance, path}`` (a reset now and then),
one sample every 15 s for ``--hours`` ending now, from a seeded RNG. Vigil: the samples go into
the series store of a real app (``create_app``) served by uvicorn on 127.0.0.1. Prometheus: the
same samples written as OpenMetrics and backfilled with ``promtool tsdb create-blocks-from
openmetrics``, served by a private Prometheus (as ``bench/rules.py`` does). Each query runs
``--runs`` times against each over HTTP, JSON answer read in full; the answers are compared
series by series once, as a check that both computed the same. Prints p50 and p99 per query and
side, and the ratio Vigil / Prometheus.

The Vigil side is faster compiled (``make compiled``; the first line says which ran).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peer import _free_port, _log_tail, _stop_all
from bench.rule_peer import start_prometheus
from vigil.config.load import parse_stack
from vigil.metrics.compiled import compiled
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.store.database import open_database

STEP = 15.0
QUERIES = [
    "http_requests_total",
    "rate(http_requests_total[5m])",
    "sum by (path) (rate(http_requests_total[5m]))",
    'histogram_quantile(0.9, sum by (le) (rate(http_requests_total{path="/p0"}[5m])))',
]
STACK = "server: {public_read: true}\nservices: {}\n"


def series(count: int, times: list[float]) -> list[tuple[dict[str, str], list[float]]]:
    out = []
    for i in range(count):
        rng = random.Random(i)
        labels = {"__name__": "http_requests_total", "job": f"svc{i // 20}", "instance": f"i{i % 4}"}
        labels |= {"path": f"/p{i % 5}", "le": f"{(i % 10 + 1) / 10}"}
        value, values = 0.0, []
        for _ in times:
            value = 0.0 if rng.random() < 0.0005 else value + rng.randint(0, 30)
            values.append(value)
        out.append((labels, values))
    return out


def write_openmetrics(path: Path, data: list[tuple[dict[str, str], list[float]]], times: list[float]) -> None:
    with path.open("w") as out:
        for labels, values in data:
            head = "http_requests_total{" + ",".join(
                f'{k}="{v}"' for k, v in labels.items() if k != "__name__"
            )
            out.writelines(f"{head}}} {v!r} {t:.0f}\n" for t, v in zip(times, values, strict=True))
        out.write("# EOF\n")


def serve_vigil(data: list[tuple[dict[str, str], list[float]]], times: list[float], workdir: Path) -> str:
    """A real app on a free port, its series store holding ``data``; returns its URL."""
    port = _free_port()
    filled = threading.Event()

    async def run() -> None:
        engine = await open_database(f"sqlite:///{workdir}/vigil.db")
        runtime = Runtime(parse_stack("vigil.yaml", STACK, {}), engine)
        runtime.series.retention = math.inf  # the day stays: the bench calls no prune either
        for labels, values in data:
            runtime.series.extend(labels, times, values)
        app = create_app(runtime, manage_runtime=False)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        filled.set()
        await server.serve()

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()
    url = f"http://127.0.0.1:{port}/prometheus"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if filled.is_set() and httpx.get(f"{url}/api/v1/status/buildinfo").status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("Vigil's app did not start within 120 s")


def timed(client: httpx.Client, base: str, params: dict[str, str]) -> tuple[float, dict[str, object]]:
    """Seconds until the whole answer has arrived (reading its JSON is the client's, not timed)."""
    started = time.perf_counter()
    response = client.get(f"{base}/api/v1/query_range", params=params)
    response.read()
    took = time.perf_counter() - started
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{base} refused {params['query']!r}: {body}")
    return took, body


def same(ours: dict[str, object], theirs: dict[str, object]) -> str:
    def table(body: dict[str, object]) -> dict[frozenset[tuple[str, str]], list[tuple[float, float]]]:
        result = body["data"]["result"]  # type: ignore[index]
        return {
            frozenset(s["metric"].items()): [(float(t), float(v)) for t, v in s["values"]] for s in result
        }

    a, b = table(ours), table(theirs)
    if a.keys() != b.keys():
        return f"different series: {len(a)} against {len(b)}"
    for key, points in a.items():
        other = b[key]
        if [t for t, _ in points] != [t for t, _ in other]:
            return f"different timestamps in {dict(key)}"
        for (_, x), (_, y) in zip(points, other, strict=True):
            if not (x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9)):
                return f"different values in {dict(key)}: {x} against {y}"
    return "same"


def measure(client: httpx.Client, vigil: str, prometheus: str, asked: dict[str, str], runs: int) -> str:
    _, ours = timed(client, vigil, asked)  # once each to warm up, and to compare
    _, theirs = timed(client, prometheus, asked)
    check = same(ours, theirs)
    v = [timed(client, vigil, asked)[0] for _ in range(runs)]
    p = [timed(client, prometheus, asked)[0] for _ in range(runs)]
    return (
        f"Vigil p50 {statistics.median(v):.3f}s p99 {percentile(v, 0.99):.3f}s | "
        f"Prometheus p50 {statistics.median(p):.3f}s p99 {percentile(p, 0.99):.3f}s | "
        f"ratio p50 {statistics.median(v) / statistics.median(p):.1f}x "
        f"p99 {percentile(v, 0.99) / percentile(p, 0.99):.1f}x | answers: {check}"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Vigil {'compiled by mypyc' if compiled() else 'plain Python (run `make compiled`)'}", flush=True)
    end = math.floor(time.time() / STEP) * STEP
    times = [end - args.hours * 3600 + STEP * i for i in range(int(args.hours * 3600 / STEP) + 1)]
    data = series(args.series, times)
    started: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="vigil-query-api-") as tmp:
        workdir = Path(tmp)
        try:
            write_openmetrics(workdir / "series.om", data, times)
            print(f"{args.series} series x {len(times)} samples; backfilling Prometheus …", flush=True)
            subprocess.run(
                [
                    "promtool",
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    "-q",
                    str(workdir / "series.om"),
                    str(workdir / "data"),
                ],
                check=True,
                capture_output=True,
            )
            prometheus = f"http://127.0.0.1:{start_prometheus(workdir, workdir / 'data', started)}"
            vigil = serve_vigil(data, times, workdir)
            params = {"start": f"{times[0]:.0f}", "end": f"{times[-1]:.0f}", "step": "15s"}
            print(f"query_range over {args.hours:g} h at 15 s steps, {args.runs} runs each, over HTTP:")
            with httpx.Client(timeout=300) as client:
                for query in QUERIES:
                    try:
                        figures = measure(client, vigil, prometheus, {**params, "query": query}, args.runs)
                        print(f"  {query}\n    {figures}", flush=True)
                    except RuntimeError as err:  # a timeout is a figure too
                        print(f"  {query}\n    {err}", flush=True)
        except Exception:
            print(_log_tail(workdir, "prometheus.log"), file=sys.stderr)
            raise
        finally:
            _stop_all(started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
