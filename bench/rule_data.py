"""The data and the rules of ``bench/rules.py``: the same numbers for Vigil and for Prometheus.

``--series`` series in jobs of 100 — per job 4 instances, each with ``http_requests_total`` for
5 paths x status 200/500 (counters, some with a reset), 10 buckets of
``http_request_duration_seconds_bucket`` and ``queue_depth`` for 5 queues (a gauge) — each with
240 samples 15 s apart. A few jobs in every hundred are unhealthy (errors, latency, backlog or no
traffic) so that some rules fire. The samples come from an RNG seeded per job.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping

from vigil.config.alerts import AlertRule

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
