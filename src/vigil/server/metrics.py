"""Vigil's own ``/metrics``: what it ran, what failed, how long probes took, what is waiting.

Aggregates (by probe kind, channel) live in a prometheus-client registry of Vigil's own (not
the global one, so tests and several apps in one process never share counters). The per-check
series are written straight from the status board: prometheus-client spends ~30 µs a sample,
a whole second of a stalled event loop at 10,000 checks, where joining the lines takes ~20 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.engine.board import StatusBoard
from vigil.engine.supervisor import Stage, StageStatus
from vigil.probes.base import Result

PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class VigilMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.checks_run = Counter(
            "vigil_checks_run", "Check runs completed.", ["kind"], registry=self.registry
        )
        self.check_failures = Counter(
            "vigil_check_failures", "Check runs that failed.", ["kind"], registry=self.registry
        )
        self.probe_duration = Histogram(
            "vigil_probe_duration_seconds",
            "Time per check run, by probe kind.",
            ["kind"],
            buckets=PROBE_BUCKETS,
            registry=self.registry,
        )
        self.open_incidents = Gauge(
            "vigil_open_incidents", "Incidents not yet resolved.", registry=self.registry
        )
        self.outbox_depth = Gauge(
            "vigil_outbox_depth", "Notifications waiting to be sent.", registry=self.registry
        )
        self.notification_failures = Counter(
            "vigil_notification_failures", "Failed delivery attempts.", ["channel"], registry=self.registry
        )
        self.notifications_sent = Counter(
            "vigil_notifications_sent", "Notifications delivered.", ["channel"], registry=self.registry
        )

    def observe(self, result: Result, kind: str) -> None:
        self.checks_run.labels(kind).inc()
        if not result.ok:
            self.check_failures.labels(kind).inc()
        self.probe_duration.labels(kind).observe(result.duration_ms / 1000.0)

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        gauge.set_function(read)

    def watch_stages(self, stages: Callable[[], list[Stage]], dropped: Callable[[], int]) -> None:
        """Each supervised stage's health, read from the supervisor at every scrape."""
        self.registry.register(_StageCollector(stages, dropped))

    def watch_targets(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Missed response targets by severity and target, as the store counts them (so the
        counter survives restarts): ``vigil_incident_targets_missed_total``."""
        self.registry.register(_TargetCollector(counts))

    def render(self, board: StatusBoard) -> bytes:
        return generate_latest(self.registry) + per_check(board).encode()


class _StageCollector(Collector):
    def __init__(self, stages: Callable[[], list[Stage]], dropped: Callable[[], int]) -> None:
        self.stages = stages
        self.dropped = dropped

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "vigil_stage_up", "1 while the stage runs well, 0 while it fails.", labels=["stage"]
        )
        failing = GaugeMetricFamily(
            "vigil_stage_failing_seconds",
            "How long the stage has been failing; 0 when it is well.",
            labels=["stage"],
        )
        restarts = CounterMetricFamily(
            "vigil_stage_restarts", "Times the stage was started again after it failed.", labels=["stage"]
        )
        for stage in self.stages():
            up.add_metric([stage.name], 1.0 if stage.status is StageStatus.OK else 0.0)
            failing.add_metric([stage.name], stage.failing_for())
            restarts.add_metric([stage.name], stage.restarts)
        yield from (up, failing, restarts)
        yield CounterMetricFamily(
            "vigil_results_dropped",
            "Results dropped because the store refused them too long.",
            value=self.dropped(),
        )


class _TargetCollector(Collector):
    def __init__(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        missed = CounterMetricFamily(
            "vigil_incident_targets_missed",
            "Incidents that missed their severity's acknowledge or resolve target.",
            labels=["severity", "target"],
        )
        for (severity, target), count in sorted(self.counts().items()):
            missed.add_metric([severity, target], count)
        yield missed


_PER_CHECK = (
    ("vigil_check_up", "gauge", "1 when the check's last run passed, 0 when it failed."),
    ("vigil_check_duration_seconds", "gauge", "How long the check's last run took."),
    ("vigil_check_runs_total", "counter", "Runs of the check since Vigil started."),
    ("vigil_check_failures_total", "counter", "Failed runs of the check since Vigil started."),
)


def per_check(board: StatusBoard) -> str:
    # Service and check names are [A-Za-z0-9_-] (the stack file's rule), so no label escaping.
    rows: list[list[str]] = [[], [], [], []]
    for status in board.checks.values():
        last = status.last
        if last is None:
            continue
        labels = f'{{service="{status.spec.service}",check="{status.spec.name}"}}'
        rows[0].append(f"vigil_check_up{labels} {1 if last.ok else 0}")
        rows[1].append(f"vigil_check_duration_seconds{labels} {last.duration_ms / 1000.0:.6f}")
        rows[2].append(f"vigil_check_runs_total{labels} {status.runs}")
        rows[3].append(f"vigil_check_failures_total{labels} {status.failures}")
    out = []
    for (name, kind, help_text), lines in zip(_PER_CHECK, rows, strict=True):
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        out.append("\n".join(lines) + ("\n" if lines else ""))
    return "".join(out)
