"""Alert-rule evaluation at scale: Vigil's in-process PromQL beside a real Prometheus.

    python bench/rules.py                              # 100,000 series, 10,000 rules (~6 min)
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

Vigil: the series go into a ``SeriesStore`` (closed chunks
compressed, the newest samples plain); a ``RuleEvaluator`` runs the rules through
``LocalQuery`` and drives a real ``IncidentService`` on a temporary SQLite database, keeping
its alerts there as ``vigil up`` does (``--no-alert-states``: in memory only), for
``--cycles`` evaluations from T-5m to T (so ``for: 5m`` alerts fire in the last one). Per cycle:
wall time, and the part of it spent inside the PromQL evaluator ("engine"). When cycles are
slow, ``--budget`` (default 600 s) cuts the middle ones so the run stays bounded.

Prometheus: the same samples are written as OpenMetrics text and backfilled with
``promtool tsdb create-blocks-from openmetrics``; a private Prometheus then serves them. First
each rule expression is sent to ``/api/v1/query`` at the same timestamps, with ``stats=all`` so
that Prometheus reports its own engine time per query (``execTotalTime``, HTTP and JSON
excluded); the results of the last timestamp are compared series by series as a check that both
sides computed the same thing. Then the same rules are loaded as one rule group (``vigil rules
export``) and Prometheus' rule manager evaluates it every 15 s: its own ``evaluationTime`` per
group evaluation is the figure beside Vigil's cycle. It evaluates at wall-clock time only, so the
samples go in shifted forward to end then (see ``rule_peer``).

The Vigil side needs the compiled hot path for its figures (``make compiled``; the first line
says which ran).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import func, select

if __package__ in (None, ""):
    # Run as a script (python bench/rules.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rule_data import (
    FOR,
    KINDS,
    SAMPLES,
    SERIES_PER_JOB,
    STACK,
    STEP,
    Result,
    _key,
    all_series,
    build_rules,
    sample_times,
)
from bench.rule_peer import PromFigures, run_prometheus
from vigil.alerting.alert_states import AlertStates
from vigil.alerting.alerts import AlertState
from vigil.alerting.evaluator import RuleEvaluator, Samples
from vigil.alerting.local import LocalQuery
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.metrics.blocks import BlockSet
from vigil.metrics.compaction import Compactor
from vigil.metrics.compiled import compiled
from vigil.metrics.store import SeriesStore, StoreStats
from vigil.store.database import open_database
from vigil.store.tables import IncidentRow

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
    disk_mb: float  # the blocks the store compacts into at shutdown
    compact_s: float
    last: list[Result] = field(repr=False)  # per rule, at the last cycle


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class TimedQuery:
    """``LocalQuery`` with a stopwatch: time inside the evaluator and samples returned, per
    cycle, and each rule's result when ``keep`` is set (for the comparison with Prometheus)."""

    def __init__(self, rules: list[AlertRule], store: SeriesStore) -> None:
        self.inner = LocalQuery(rules, store)
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
    jobs: int,
    rules: list[AlertRule],
    times: list[float],
    eval_times: list[float],
    budget: float,
    keep_alerts: bool = True,
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
            # Alerts kept in the store as `vigil up` keeps them (alerting.alert_states), unless not.
            states = AlertStates(database, "bench", clock, grace=600.0) if keep_alerts else None
            evaluator = RuleEvaluator(
                rules, query, incidents, clock, every=every, cycle=query.inner.cycle, states=states
            )
            used, cycles, engines, counts = await run_cycles(evaluator, clock, query, eval_times, budget)
            alerts = evaluator.alerts()
            async with database.connect() as conn:
                opened = (await conn.execute(select(func.count()).select_from(IncidentRow))).scalar_one()
        finally:
            await database.dispose()
        rss_after = rss_mb()
        stats = store.stats()
        blocks = BlockSet(Path(tmp) / "series", retention=15 * 86400.0, max_size=2**40)
        blocks.open()
        started = time.perf_counter()
        Compactor(store, blocks, every=0.0).compact(eval_times[-1], closing=True)
        compact_s = time.perf_counter() - started
        disk_mb = sum(p.stat().st_size for p in blocks.path.rglob("*") if p.is_file()) / 2**20
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
        rss_mb=rss_after,
        peak_rss_mb=peak_rss_mb(),
        stats=stats,
        disk_mb=disk_mb,
        compact_s=compact_s,
        last=[query.kept.get(i, {}) for i in range(len(rules))],
    )


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
    print(
        f"  blocks on disk: {vigil.disk_mb:.1f} MiB ({vigil.disk_mb * 2**20 / s.samples:.2f} B/sample), "
        f"written in {vigil.compact_s:.1f}s"
    )
    if prom is None:
        return
    print(
        f"Prometheus: OpenMetrics {prom.input_mb:.0f} MiB written in {prom.write_s:.1f}s, backfilled in "
        f"{prom.backfill_s:.1f}s ({prom.tsdb_mb:.0f} MiB of blocks), ready in {prom.start_s:.1f}s"
    )
    print(f"  engine s   {spread(prom.engine_s)}   (sum of execTotalTime)")
    print(f"  HTTP s     {spread(prom.http_s)}   (sequential queries, one connection)")
    print(f"  RSS {prom.rss_mb:.0f} MiB after the queries, {prom.rules_rss_mb:.0f} MiB after the rule group")
    if prom.group_s:
        late = f"; {prom.group_late} after the samples' end" if prom.group_late else ""
        print(
            f"  rule group s {spread(prom.group_s)}   ({len(prom.group_s)} evaluations by its rule manager{late})"
        )
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
    if prom.group_s:
        p_group = statistics.median(prom.group_s)
        print(
            f"{'Vigil cycle vs rule group, s':34} {v_cycle:>9.3f} {p_group:>11.3f} {v_cycle / p_group:>11.2f}"
        )
    print(
        f"{'resident memory, MiB':34} {vigil.rss_mb:>9.0f} {prom.rss_mb:>11.0f} {vigil.rss_mb / prom.rss_mb:>11.1f}"
    )
    if prom.rules_rss_mb:
        ratio = vigil.rss_mb / prom.rules_rss_mb
        print(
            f"{'memory vs after its rule group, MiB':34} {vigil.rss_mb:>9.0f} {prom.rules_rss_mb:>11.0f} "
            f"{ratio:>11.2f}   (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})"
        )
    samples = s.samples or 1
    v_disk, p_disk = vigil.disk_mb * 2**20 / samples, prom.tsdb_mb * 2**20 / samples
    print(
        f"{'bytes per sample on disk':34} {v_disk:>9.2f} {p_disk:>11.2f} {v_disk / p_disk:>11.2f}"
        f"   (target <= 2: {'met' if v_disk <= 2 * p_disk else 'MISSED'})"
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
    parser.add_argument(
        "--no-alert-states", action="store_true", help="keep alerts in memory only (no alert_states writes)"
    )
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
    vigil = asyncio.run(run_vigil(jobs, rules, times, eval_times, args.budget, not args.no_alert_states))
    prom = None
    if not args.no_peer:
        print("Prometheus …", flush=True)
        # The same timestamps as Vigil's cycles, so that the medians compare like with like.
        prom = run_prometheus(jobs, rules, times, vigil.times)
    report(args.series, args.rules, vigil, prom)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
