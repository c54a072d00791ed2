"""Vigil's own ``/metrics``: what it ran, what failed, how long probes took, what is waiting.

A registry of its own (not prometheus-client's global one) so that tests and several apps in
one process never share counters.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from vigil.probes.base import Result

PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class VigilMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.checks_run = Counter(
            "vigil_checks_run", "Check runs completed.", ["service", "check"], registry=self.registry
        )
        self.check_failures = Counter(
            "vigil_check_failures", "Check runs that failed.", ["service", "check"], registry=self.registry
        )
        self.check_up = Gauge(
            "vigil_check_up",
            "1 when the check's last run passed.",
            ["service", "check"],
            registry=self.registry,
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
        labels = (result.service, result.check)
        self.checks_run.labels(*labels).inc()
        if not result.ok:
            self.check_failures.labels(*labels).inc()
        self.check_up.labels(*labels).set(1 if result.ok else 0)
        self.probe_duration.labels(kind).observe(result.duration_ms / 1000.0)

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        gauge.set_function(read)

    def render(self) -> bytes:
        return generate_latest(self.registry)
