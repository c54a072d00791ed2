"""Alert-rule evaluation at scale: Vigil's in-process PromQL beside a real Prometheus.

    python bench/rules.py                              # 100,000 series, 10,000 rules (~8 min)
    python bench/rules.py --series 10000 --rules 1000  # quick run (~20 s)
    python bench/rules.py --no-peer                    # Vigil only

Data: ``--series`` series (a multiple of 100) in jobs of 100 — per job 4 instances, each with
``http_requests_total`` for 5 paths x status 200/500 (counters, some with a reset), 10 buckets of
``http_request_duration_seconds_bucket`` and ``queue_depth`` for 5 queues (a gauge) — each with
240 samples 15 s apart ending at the current time T. A few jobs in every hundred are unhealthy
(errors, latency, backlog or no traffic) so that some rules fire. The samples come from an RNG
seeded per job, so both sides get exactly the same numbers.

Rules: ``--rules`` alerting rules with ``for: 5m``, ten kinds (error ratio overall and per path,
request rate per instance, traffic drop, p95 and per-instance p99 from the histogram,
avg_over_time and max_over_time of the gauge, absent(), increase over 1 h), each for one job.

Vigil: the series go into a ``SeriesStore``; a ``RuleEvaluator`` runs the rules through
``local_query`` and drives a real ``IncidentService`` on a temporary SQLite database, for
``--cycles`` evaluations from T-5m to T (so ``for: 5m`` alerts fire in the last one). Per cycle:
wall time, and the part of it spent inside the PromQL evaluator ("engine"). When cycles are
slow, ``--budget`` (default 600 s) cuts the middle ones so the run stays bounded.

Prometheus: the same samples are written as OpenMetrics text and backfilled with
``promtool tsdb create-blocks-from openmetrics``; a private Prometheus then serves them and each
rule expression is sent to ``/api/v1/query`` at the same timestamps, with ``stats=all`` so that
Prometheus reports its own engine time per query (``execTotalTime``, HTTP and JSON excluded). Its
rule manager is not used: it evaluates only at wall-clock time, and by the time Prometheus is up
(after Vigil's cycles, the OpenMetrics file and the backfill: minutes at full size) data ending at
T has slid out of the 5-minute windows, so it would evaluate other, emptier windows than Vigil.
The results of the last timestamp are compared series by series as a check that both sides
computed the same thing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import math
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import func, select

if __package__ in (None, ""):
    # Run as a script (python bench/rules.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peer import HOST, PROMETHEUS_BIN, _free_port, _log_tail, _rss_mb, _spawn, _stop, _wait_http
from vigil.alerting.alerts import AlertState
from vigil.alerting.evaluator import RuleEvaluator, Samples
from vigil.alerting.local import local_query
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.metrics.compiled import compiled
from vigil.metrics.store import SeriesStore, StoreStats
from vigil.store.database import open_database
from vigil.store.tables import IncidentRow

STEP = 15.0  # seconds between samples
SAMPLES = 240  # one hour of them
SERIES_PER_JOB = 100
INSTANCES = 4
PATHS = 5
QUEUES = 5
LE = ("0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
FOR = 300.0  # every rule's `for`
KINDS = 10  # rule kinds, see rule_exprs

STACK = """
services: {}
notify:
  channels: {log: {log: true}}
  default: [log]
"""

# A rule's result at one timestamp: label set → value.
Result = dict[frozenset[tuple[str, str]], float]


# --- data ---------------------------------------------------------------------------------------


def _health(job: int) -> tuple[bool, bool, bool, bool]:
    """(errors, slow, backlog, quiet): each true for a few jobs in a hundred, at different ones."""
    return job % 17 == 5, job % 23 == 9, job % 29 == 13, job % 31 == 17


def _counter(rng: random.Random, per_second: float) -> list[float]:
    """A counter: integer increments around per_second x STEP; 5 % of them reset once."""
    reset_at = rng.randrange(1, SAMPLES) if rng.random() < 0.05 else -1
    value = float(rng.randrange(0, 100_000))
    out = []
    for i in range(SAMPLES):
        if i == reset_at:
            value = 0.0
        value += round(per_second * STEP * (0.7 + 0.6 * rng.random()))
        out.append(value)
    return out


def _lognormal_cdf(x: float, median: float, sigma: float = 0.8) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def job_series(job: int) -> Iterator[tuple[dict[str, str], list[float]]]:
    """The 100 series of one job with their 240 values; the same numbers on every call."""
    rng = random.Random(job)
    errors, slow, backlog, quiet = _health(job)
    name = f"svc{job}"
    for i in range(INSTANCES):
        instance = f"i{i}"
        for p in range(PATHS):
            ok_rate = rng.uniform(0.5, 8.0) * (0.01 if quiet else 1.0)
            error_share = rng.uniform(0.1, 0.3) if errors else rng.uniform(0.001, 0.01)
            for status, rate in (("200", ok_rate), ("500", ok_rate * error_share)):
                labels = {
                    "__name__": "http_requests_total",
                    "job": name,
                    "instance": instance,
                    "path": f"/p{p}",
                    "status": status,
                }
                yield labels, _counter(rng, rate)
        # A histogram's buckets must grow together: draw each step's request count once and
        # give every bucket its (monotone in le) share of it.
        per_second = rng.uniform(5.0, 40.0)
        median = 1.5 if slow else rng.uniform(0.03, 0.12)
        shares = [1.0 if le == "+Inf" else _lognormal_cdf(float(le), median) for le in LE]
        totals = [0.0] * len(LE)
        columns: list[list[float]] = [[] for _ in LE]
        for _ in range(SAMPLES):
            count = per_second * STEP * (0.7 + 0.6 * rng.random())
            for b, share in enumerate(shares):
                totals[b] += round(count * share)
                columns[b].append(totals[b])
        for le, column in zip(LE, columns, strict=True):
            labels = {
                "__name__": "http_request_duration_seconds_bucket",
                "job": name,
                "instance": instance,
                "le": le,
            }
            yield labels, column
        for q in range(QUEUES):
            level = 150.0 if backlog else rng.uniform(5.0, 40.0)
            value = level
            column = []
            for _ in range(SAMPLES):
                value = max(0.0, round(level + 0.8 * (value - level) + rng.gauss(0.0, level * 0.15)))
                column.append(value)
            yield {"__name__": "queue_depth", "job": name, "instance": instance, "queue": f"q{q}"}, column


def all_series(jobs: int) -> Iterator[tuple[dict[str, str], list[float]]]:
    for job in range(jobs):
        yield from job_series(job)


def sample_times(end: float) -> list[float]:
    return [end - (SAMPLES - 1 - i) * STEP for i in range(SAMPLES)]


# --- rules --------------------------------------------------------------------------------------


def rule_exprs(job: int) -> list[tuple[str, str, str]]:
    """(alert name, expression, summary) of the ten rule kinds, for one job."""
    sel = f'job="svc{job}"'
    req = f"http_requests_total{{{sel}}}"
    err = f'http_requests_total{{{sel},status=~"5.."}}'
    bucket = f"http_request_duration_seconds_bucket{{{sel}}}"
    return [
        (
            "HighErrorRate",
            f"sum by (job) (rate({err}[5m])) / sum by (job) (rate({req}[5m])) > 0.05",
            "Error rate {{ $value | humanizePercentage }}",
        ),
        (
            "PathErrorRate",
            f'sum by (job, path) (rate(http_requests_total{{{sel},status="500"}}[5m]))'
            f" / sum by (job, path) (rate({req}[5m])) > 0.1",
            "{{ $labels.path }} fails {{ $value | humanizePercentage }}",
        ),
        (
            "HighRequestRate",
            f"sum by (job, instance) (rate({req}[5m])) > 35",
            "{{ $labels.instance }} serves {{ $value }} req/s",
        ),
        (
            "TrafficDrop",
            f'sum by (job) (rate(http_requests_total{{{sel},status="200"}}[5m])) < 1',
            "Only {{ $value }} req/s",
        ),
        (
            "SlowP95",
            f"histogram_quantile(0.95, sum by (job, le) (rate({bucket}[5m]))) > 2",
            "p95 latency {{ $value }}s",
        ),
        (
            "SlowP99Instance",
            f"histogram_quantile(0.99, sum by (job, instance, le) (rate({bucket}[5m]))) > 4",
            "p99 latency on {{ $labels.instance }} {{ $value }}s",
        ),
        (
            "QueueBacklog",
            f"avg_over_time(queue_depth{{{sel}}}[10m]) > 100",
            "{{ $labels.queue }} holds {{ $value }} on average",
        ),
        (
            "QueueSpike",
            f'max_over_time(queue_depth{{{sel},queue="q0"}}[5m]) > 200',
            "q0 reached {{ $value }}",
        ),
        ("MetricsAbsent", f'absent(http_requests_total{{{sel},status="200"}})', "No request metrics"),
        (
            "ErrorBudgetBurn",
            f"sum by (job) (increase({err}[1h])) > 20000",
            "{{ $value }} errors in an hour",
        ),
    ]


def build_rules(count: int, jobs: int) -> list[AlertRule]:
    """``count`` rules, the ten kinds of each job in turn; past ten per job they start over
    (the same expressions again, as in a rule file that repeats itself)."""
    rules = []
    for i in range(count):
        name, expr, summary = rule_exprs((i // KINDS) % jobs)[i % KINDS]
        rules.append(
            AlertRule.model_validate(
                {
                    "name": name,
                    "expr": expr,
                    "for": "5m",
                    "severity": "P2",
                    "annotations": {"summary": summary},
                    # One incident per alert and job: a realistic routing, and every firing
                    # (rule, job) costs the database transaction it would cost in production.
                    "group_by": ["alertname", "job"],
                }
            )
        )
    return rules


def _key(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in labels.items() if k != "__name__")


# --- Vigil --------------------------------------------------------------------------------------


@dataclass
class VigilFigures:
    load_s: float
    compile_s: float
    times: list[float]  # the evaluation timestamps actually run (see the budget)
    cycles_s: list[float]
    engine_s: list[float]  # of each cycle, the time inside the PromQL evaluator
    results: list[int]  # samples returned by all rules, per cycle
    firing: int
    pending: int
    errors: dict[str, str]
    incidents: int
    rss_loaded_mb: float
    rss_mb: float
    peak_rss_mb: float
    stats: StoreStats
    last: list[Result] = field(repr=False)  # per rule, at the last cycle


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class TimedQuery:
    """``local_query`` with a stopwatch: time inside the evaluator and samples returned, per
    cycle, and each rule's result when ``keep`` is set (for the comparison with Prometheus)."""

    def __init__(self, rules: list[AlertRule], store: SeriesStore) -> None:
        self.inner = local_query(rules, store)
        self.index = {id(rule): i for i, rule in enumerate(rules)}
        self.engine = 0.0
        self.samples = 0
        self.keep = False
        self.kept: dict[int, Result] = {}

    async def __call__(self, rule: AlertRule, at: float) -> Samples:
        started = time.perf_counter()
        out = await self.inner(rule, at)
        self.engine += time.perf_counter() - started
        self.samples += len(out)
        if self.keep:
            self.kept[self.index[id(rule)]] = {_key(labels): value for labels, value in out}
        return out


def load_store(jobs: int, times: list[float]) -> tuple[SeriesStore, float]:
    started = time.perf_counter()
    store = SeriesStore(max_series=max(jobs * SERIES_PER_JOB, 1))
    for labels, values in all_series(jobs):
        store.extend(labels, times, values)
    return store, time.perf_counter() - started


async def run_cycles(
    evaluator: RuleEvaluator, clock: FakeClock, query: TimedQuery, eval_times: list[float], budget: float
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Evaluate at each timestamp; returns (timestamps run, cycle s, engine s, samples)."""
    used: list[float] = []
    cycles: list[float] = []
    engines: list[float] = []
    counts: list[int] = []
    n = 0
    while n < len(eval_times):
        at = eval_times[n]
        await clock.advance(at - clock.now().timestamp())
        query.keep = n == len(eval_times) - 1
        query.engine, query.samples = 0.0, 0
        started = time.perf_counter()
        await evaluator.evaluate_once()
        cycles.append(time.perf_counter() - started)
        engines.append(query.engine)
        counts.append(query.samples)
        used.append(at)
        print(
            f"  cycle {n + 1}/{len(eval_times)} at T{at - eval_times[-1]:+.0f}s: "
            f"{cycles[-1]:.2f}s (engine {query.engine:.2f}s), {query.samples} samples",
            flush=True,
        )
        n += 1
        # Keep the run bounded when cycles are slow: if the next cycle and the last would not
        # both fit in the budget, go straight to the last one at T. That is still 5 minutes
        # after the first, so alerts that held since then fire in it as they would.
        if n < len(eval_times) - 1 and sum(cycles) + 2 * cycles[-1] > budget:
            print(f"  (over the {budget:.0f}s budget: skipping to the cycle at T)", flush=True)
            n = len(eval_times) - 1
    return used, cycles, engines, counts


async def run_vigil(
    jobs: int, rules: list[AlertRule], times: list[float], eval_times: list[float], budget: float
) -> VigilFigures:
    store, load_s = load_store(jobs, times)
    # Settle the generator's garbage so it is neither in the RSS figure nor a full collection
    # in the first cycle. No gc.freeze(): `vigil up` freezes at startup, before any series exist.
    gc.collect()
    rss_loaded = rss_mb()

    started = time.perf_counter()
    query = TimedQuery(rules, store)  # compiles every expression once, as `vigil up` does
    compile_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="vigil-rules-") as tmp:
        database = await open_database(f"sqlite:///{tmp}/vigil.db")
        try:
            clock = FakeClock(datetime.fromtimestamp(eval_times[0], UTC))
            incidents = IncidentService(database, parse_stack("bench.yaml", STACK, {}).model, clock)
            every = eval_times[1] - eval_times[0] if len(eval_times) > 1 else STEP
            evaluator = RuleEvaluator(rules, query, incidents, clock, every=every, cycle=query.inner.cycle)
            used, cycles, engines, counts = await run_cycles(evaluator, clock, query, eval_times, budget)
            alerts = evaluator.alerts()
            async with database.connect() as conn:
                opened = (await conn.execute(select(func.count()).select_from(IncidentRow))).scalar_one()
        finally:
            await database.dispose()
    return VigilFigures(
        load_s=load_s,
        compile_s=compile_s,
        times=used,
        cycles_s=cycles,
        engine_s=engines,
        results=counts,
        firing=sum(a.state is AlertState.FIRING for a in alerts),
        pending=sum(a.state is AlertState.PENDING for a in alerts),
        errors=dict(evaluator.errors),
        incidents=opened,
        rss_loaded_mb=rss_loaded,
        rss_mb=rss_mb(),
        peak_rss_mb=peak_rss_mb(),
        stats=store.stats(),
        last=[query.kept.get(i, {}) for i in range(len(rules))],
    )


# --- Prometheus ---------------------------------------------------------------------------------


@dataclass
class PromFigures:
    write_s: float
    input_mb: float
    backfill_s: float
    start_s: float
    engine_s: list[float]  # per cycle, sum of Prometheus' execTotalTime over the queries
    http_s: list[float]  # per cycle, wall time of the sequential HTTP queries
    results: list[int]
    rss_mb: float
    tsdb_mb: float
    last: list[Result] = field(repr=False)


def write_openmetrics(path: Path, jobs: int, times: Sequence[float]) -> None:
    """The same samples as OpenMetrics text, streamed one series at a time.

    No ``# TYPE`` lines: every family is then "unknown" and keeps its name as written, which is
    all PromQL needs (rate() and histogram_quantile() go by values and the le label)."""
    stamps = [f" {t:.0f}\n" for t in times]
    with path.open("w", buffering=1 << 20) as out:
        for labels, values in all_series(jobs):
            head = labels["__name__"] + "{"
            head += ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__") + "} "
            out.write("".join([head + repr(v) + s for v, s in zip(values, stamps, strict=True)]))
        out.write("# EOF\n")


def _query_all(
    conn: http.client.HTTPConnection, exprs: list[str], at: float, keep: bool
) -> tuple[float, float, int, list[Result]]:
    """Every expression at ``at``, one after another, as a rule group runs them.
    Returns (engine seconds, wall seconds, samples, per-rule results if ``keep``)."""
    engine = 0.0
    samples = 0
    kept: list[Result] = []
    started = time.perf_counter()
    for expr in exprs:
        qs = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}", "stats": "all"})
        conn.request("GET", f"/api/v1/query?{qs}")
        body = json.loads(conn.getresponse().read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {expr!r}: {body.get('error')}")
        engine += body["data"]["stats"]["timings"]["execTotalTime"]
        result = body["data"]["result"]
        samples += len(result)
        if keep:
            kept.append({_key(r["metric"]): float(r["value"][1]) for r in result})
    return engine, time.perf_counter() - started, samples, kept


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def backfill(workdir: Path, jobs: int, times: list[float]) -> tuple[Path, float, float, float]:
    """Write the samples as OpenMetrics and turn them into TSDB blocks under workdir/data.
    Returns (data dir, seconds writing, MiB written, seconds in promtool)."""
    source, data = workdir / "series.om", workdir / "data"
    started = time.perf_counter()
    write_openmetrics(source, jobs, times)
    write_s = time.perf_counter() - started
    input_mb = source.stat().st_size / 2**20
    print(f"  OpenMetrics written: {input_mb:.0f} MiB in {write_s:.1f}s; backfilling …", flush=True)
    started = time.perf_counter()
    with (workdir / "promtool.log").open("wb") as log:
        done = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1800,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"promtool failed:\n{_log_tail(workdir, 'promtool.log')}")
    backfill_s = time.perf_counter() - started
    source.unlink()  # gigabytes at full size; the blocks are all Prometheus reads
    return data, write_s, input_mb, backfill_s


def start_prometheus(workdir: Path, data: Path, started: list[subprocess.Popen[bytes]]) -> int:
    """Start Prometheus on the blocks in ``data``; returns its port once it is ready. The process
    goes into ``started`` as soon as it exists, for the caller's cleanup."""
    # No scrape configs and no rules: the queries are Prometheus' only work.
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({"global": {"scrape_interval": "1h", "evaluation_interval": "1h"}}))
    port = _free_port()
    prom = _spawn(
        [
            PROMETHEUS_BIN,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=warn",
        ],
        workdir,
        "prometheus.log",
    )
    started.append(prom)
    try:
        _wait_http(f"http://{HOST}:{port}/-/ready", prom, time.monotonic() + 120, PROMETHEUS_BIN)
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(f"{exc}\n{_log_tail(workdir, 'prometheus.log')}") from exc
    return port


def run_prometheus(jobs: int, exprs: list[str], times: list[float], eval_times: list[float]) -> PromFigures:
    for binary in (PROMETHEUS_BIN, "promtool"):
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} not found: run scripts/install-peers.sh")
    workdir = Path(tempfile.mkdtemp(prefix="vigil-rules-prom-"))
    started: list[subprocess.Popen[bytes]] = []
    try:
        data, write_s, input_mb, backfill_s = backfill(workdir, jobs, times)
        tsdb_mb = _dir_mb(data)
        t0 = time.perf_counter()
        port = start_prometheus(workdir, data, started)
        start_s = time.perf_counter() - t0

        engines: list[float] = []
        walls: list[float] = []
        counts: list[int] = []
        last: list[Result] = []
        conn = http.client.HTTPConnection(HOST, port, timeout=60)  # one keep-alive connection
        try:
            for n, at in enumerate(eval_times):
                engine, wall, samples, kept = _query_all(conn, exprs, at, n == len(eval_times) - 1)
                engines.append(engine)
                walls.append(wall)
                counts.append(samples)
                last = kept or last
                print(
                    f"  cycle {n + 1}/{len(eval_times)} at T{at - eval_times[-1]:+.0f}s: "
                    f"engine {engine:.2f}s, over HTTP {wall:.2f}s, {samples} samples",
                    flush=True,
                )
        finally:
            conn.close()
        return PromFigures(
            write_s=write_s,
            input_mb=input_mb,
            backfill_s=backfill_s,
            start_s=start_s,
            engine_s=engines,
            http_s=walls,
            results=counts,
            rss_mb=_rss_mb(started[0].pid),
            tsdb_mb=tsdb_mb,
            last=last,
        )
    finally:
        try:
            for proc in started:
                _stop(proc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# --- report -------------------------------------------------------------------------------------


def mismatches(ours: list[Result], theirs: list[Result]) -> list[str]:
    """Rules whose results differ (label sets, or values beyond float noise), described."""
    out = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a.keys() != b.keys():
            out.append(f"rule {i}: {len(a)} vs {len(b)} series")
            continue
        for k, v in a.items():
            w = b[k]
            if not (math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(v) and math.isnan(w))):
                out.append(f"rule {i} {dict(k)}: {v!r} vs {w!r}")
                break
    return out


def spread(values: list[float]) -> str:
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}"


def report(series: int, rules: int, vigil: VigilFigures, prom: PromFigures | None) -> None:
    s = vigil.stats
    median = statistics.median(vigil.cycles_s)
    print()
    print(f"Vigil: load {vigil.load_s:.1f}s, compile {vigil.compile_s:.2f}s")
    print(f"  cycle s    {spread(vigil.cycles_s)}   (target < 1 s: {'met' if median < 1 else 'MISSED'})")
    print(f"  engine s   {spread(vigil.engine_s)}   (inside the PromQL evaluator)")
    print(
        f"  alerts: {vigil.firing} firing, {vigil.pending} pending; {vigil.incidents} incidents opened; "
        f"{len(vigil.errors)} rules failing"
        + (f" (e.g. {next(iter(vigil.errors.items()))})" if vigil.errors else "")
    )
    peak = max(vigil.peak_rss_mb, vigil.rss_mb)
    print(
        f"  RSS {vigil.rss_loaded_mb:.0f} MiB loaded, {vigil.rss_mb:.0f} MiB after the cycles, peak {peak:.0f} MiB"
        f"   (target < 1024 MiB: {'met' if vigil.rss_mb < 1024 else 'MISSED'})"
    )
    print(
        f"  store: {s.series} series, {s.samples} samples, ~{s.bytes / 2**20:.0f} MiB "
        f"({s.bytes_per_sample:.1f} B/sample); refused: out of order {s.out_of_order}, "
        f"duplicate {s.duplicate}, too old {s.too_old}, over the limit {s.series_limit}"
    )
    if prom is None:
        return
    print(
        f"Prometheus: OpenMetrics {prom.input_mb:.0f} MiB written in {prom.write_s:.1f}s, backfilled in "
        f"{prom.backfill_s:.1f}s ({prom.tsdb_mb:.0f} MiB of blocks), ready in {prom.start_s:.1f}s"
    )
    print(f"  engine s   {spread(prom.engine_s)}   (sum of execTotalTime)")
    print(f"  HTTP s     {spread(prom.http_s)}   (sequential queries, one connection)")
    print(f"  RSS {prom.rss_mb:.0f} MiB after the queries")
    wrong = mismatches(vigil.last, prom.last)
    agree = "all agree" if not wrong else f"{len(wrong)} differ, e.g. {'; '.join(wrong[:3])}"
    print(f"  results at T: {vigil.results[-1]} samples in Vigil, {prom.results[-1]} in Prometheus; {agree}")
    print()
    v_cycle, v_engine = statistics.median(vigil.cycles_s), statistics.median(vigil.engine_s)
    p_engine, p_http = statistics.median(prom.engine_s), statistics.median(prom.http_s)
    print(f"{series} series, {rules} rules — medians over {len(vigil.cycles_s)} timestamps")
    print(f"{'':34} {'Vigil':>9} {'Prometheus':>11} {'Vigil/Prom':>11}")
    print(f"{'engine only, s per cycle':34} {v_engine:>9.3f} {p_engine:>11.3f} {v_engine / p_engine:>11.1f}")
    print(
        f"{'Vigil cycle vs Prometheus HTTP, s':34} {v_cycle:>9.3f} {p_http:>11.3f} {v_cycle / p_http:>11.1f}"
    )
    print(
        f"{'resident memory, MiB':34} {vigil.rss_mb:>9.0f} {prom.rss_mb:>11.0f} {vigil.rss_mb / prom.rss_mb:>11.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=100_000, help="series, a multiple of 100 (jobs of 100)")
    parser.add_argument("--rules", type=int, default=10_000, help="alert rules, ten kinds per job")
    parser.add_argument(
        "--cycles", type=int, default=5, help="evaluations, spread over the last 5 minutes up to T"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds for Vigil's cycles; when slower, skip from the middle to the last one",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip Prometheus")
    args = parser.parse_args()
    if args.series < SERIES_PER_JOB or args.series % SERIES_PER_JOB or args.rules < 1 or args.cycles < 1:
        parser.error("--series must be a positive multiple of 100; --rules and --cycles positive")

    jobs = args.series // SERIES_PER_JOB
    # T is now, on the 15 s grid; the cycles run from T-5m to T so that the last one sees
    # every `for: 5m` alert that held throughout fire.
    end = float(int(time.time()) // int(STEP) * int(STEP))
    times = sample_times(end)
    gap = FOR / (args.cycles - 1) if args.cycles > 1 else 0.0
    eval_times = [end - FOR + n * gap for n in range(args.cycles)] if args.cycles > 1 else [end]
    rules = build_rules(args.rules, jobs)
    print(
        f"{args.series} series ({jobs} jobs x {SERIES_PER_JOB}) x {SAMPLES} samples every {STEP:g}s "
        f"= {args.series * SAMPLES / 1e6:.1f}M samples; {args.rules} rules, for: 5m; "
        f"{args.cycles} cycles from T-5m to T = {datetime.fromtimestamp(end, UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    if args.rules > jobs * KINDS:
        print(f"  note: more rules than {KINDS} per job, so expressions repeat")
    print(
        f"Vigil ({'compiled by mypyc' if compiled() else 'plain Python: run `make compiled`'}) …", flush=True
    )
    vigil = asyncio.run(run_vigil(jobs, rules, times, eval_times, args.budget))
    prom = None
    if not args.no_peer:
        print("Prometheus …", flush=True)
        # The same timestamps as Vigil's cycles, so that the medians compare like with like.
        prom = run_prometheus(jobs, [rule.expr for rule in rules], times, vigil.times)
    report(args.series, args.rules, vigil, prom)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
