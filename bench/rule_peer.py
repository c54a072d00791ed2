"""The Prometheus side of ``bench/rules.py``: the same samples backfilled into a private
Prometheus, the same expressions run by its query engine and by its rule manager.

The query engine is asked at Vigil's own timestamps (``/api/v1/query`` with ``stats=all``, so
Prometheus reports its engine time without HTTP and JSON). The rule manager only evaluates at
wall-clock time, so the samples go in shifted forward by a whole number of 15 s steps: they end a
few minutes ahead, when its evaluations are collected, and every window then holds as many
samples as Vigil's did. The shift changes no result: rate() and the rest depend only on the
times' differences, and the queries are shifted alike.
"""

from __future__ import annotations

import http.client
import json
import math
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.peer import HOST, PROMETHEUS_BIN, _free_port, _log_tail, _rss_mb, _spawn, _stop, _wait_http
from bench.rule_data import STEP, Result, _key, all_series
from vigil.alerting.promfile import export_rules
from vigil.config.alerts import AlertRule


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
    group_s: list[float] = field(default_factory=list)  # rule manager: seconds per group evaluation
    group_late: int = 0  # of those, evaluations after the samples' end (emptier windows)
    rules_rss_mb: float = 0.0


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


def _configure(workdir: Path, rule_file: Path | None) -> Path:
    # No scrape configs: the queries, then the rules, are Prometheus' only work.
    config = workdir / "prometheus.yml"
    document: dict[str, object] = {"global": {"scrape_interval": "1h", "evaluation_interval": f"{STEP:.0f}s"}}
    if rule_file is not None:
        document["rule_files"] = [str(rule_file)]
    config.write_text(json.dumps(document))
    return config


def start_prometheus(workdir: Path, data: Path, started: list[subprocess.Popen[bytes]]) -> int:
    """Start Prometheus on the blocks in ``data``; returns its port once it is ready. The process
    goes into ``started`` as soon as it exists, for the caller's cleanup."""
    config = _configure(workdir, None)
    port = _free_port()
    prom = _spawn(
        [
            PROMETHEUS_BIN,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=error",
            "--web.enable-lifecycle",  # POST /-/reload loads the rules after the queries
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


def _shift(last: float, jobs: int, evaluations: int) -> float:
    """How far forward the samples go (whole steps): their end should fall just after the rule
    manager's evaluations are collected, after writing, backfilling, starting and the queries,
    which took 75 s at 1,000 jobs: 0.1 s per job and a margin. Too far costs a wait (the
    windows hold the same samples); too short, and late evaluations see emptier windows, which
    the report counts."""
    ahead = 45 + 0.1 * jobs + (evaluations + 1) * STEP
    return math.ceil((time.time() + ahead - last) / STEP) * STEP


def _evaluation_at(stamp: str) -> float:
    # Go's RFC 3339 with nanoseconds: "2026-12-01T11:30:00.123456789Z".
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + float(f"0.{fraction or 0}")


def rule_group_evaluations(port: int, count: int, timeout: float) -> list[tuple[float, float]]:
    """(evaluation time, seconds it took) of the next ``count`` evaluations of the rule group, as
    Prometheus reports them in ``/api/v1/rules``."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/rules?type=alert", timeout=60) as answer:
            groups = json.loads(answer.read())["data"]["groups"]
        for group in groups:
            stamp = group.get("lastEvaluation", "")
            if stamp and not stamp.startswith("0001") and stamp not in seen:
                seen[stamp] = float(group["evaluationTime"])
                print(f"  rule group evaluated in {seen[stamp]:.2f}s", flush=True)
        time.sleep(1.0)
    return sorted((_evaluation_at(stamp), took) for stamp, took in seen.items())


def _load_rules(workdir: Path, port: int, rules: list[AlertRule]) -> None:
    rule_file = workdir / "rules.yml"
    rule_file.write_text(export_rules(rules, interval=STEP))
    _configure(workdir, rule_file)
    request = urllib.request.Request(f"http://{HOST}:{port}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=120) as answer:
        if answer.status != 200:
            raise RuntimeError(f"Prometheus did not reload: {answer.status}")


def run_prometheus(
    jobs: int, rules: list[AlertRule], times: list[float], eval_times: list[float]
) -> PromFigures:
    for binary in (PROMETHEUS_BIN, "promtool"):
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} not found: run scripts/install-peers.sh")
    workdir = Path(tempfile.mkdtemp(prefix="vigil-rules-prom-"))
    started: list[subprocess.Popen[bytes]] = []
    exprs = [rule.expr for rule in rules]
    shift = _shift(times[-1], jobs, len(eval_times))
    try:
        data, write_s, input_mb, backfill_s = backfill(workdir, jobs, [t + shift for t in times])
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
                engine, wall, samples, kept = _query_all(conn, exprs, at + shift, n == len(eval_times) - 1)
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
        query_rss = _rss_mb(started[0].pid)

        # The rule manager: one group of every rule, evaluated every 15 s, sequentially as
        # Prometheus 2.42 does within a group; collected over the last minutes of the samples.
        _load_rules(workdir, port, rules)
        data_end = times[-1] + shift
        wait = data_end - len(eval_times) * STEP - STEP - time.time()
        if wait > 0:
            print(f"  rules loaded; waiting {wait:.0f}s for the samples' last minutes …", flush=True)
            time.sleep(wait)
        evaluations = rule_group_evaluations(port, len(eval_times), timeout=len(eval_times) * 120.0)
        return PromFigures(
            write_s=write_s,
            input_mb=input_mb,
            backfill_s=backfill_s,
            start_s=start_s,
            engine_s=engines,
            http_s=walls,
            results=counts,
            rss_mb=query_rss,
            tsdb_mb=tsdb_mb,
            last=last,
            group_s=[took for _, took in evaluations],
            group_late=sum(at > data_end for at, _ in evaluations),
            rules_rss_mb=_rss_mb(started[0].pid),
        )
    finally:
        try:
            for proc in started:
                _stop(proc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
