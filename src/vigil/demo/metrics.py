"""The demo target's ``/metrics``: request counts and latencies, as a real backend would export.

A registry of its own (not prometheus-client's global one) so that several target apps in one
process, as in the tests, never share counters.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Fine below a second, where the demo's answers land, and wide enough to show a slow mode.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# The path label of a request no route matched: one series for every unknown path, so that a
# scanner probing random URLs cannot grow the registry without bound.
UNMATCHED = "unmatched"


class TargetMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests", "HTTP requests answered.", ["method", "path", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "demo_queue_depth", "Answer requests being worked on right now.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template (``/api/answer``), not by
    the raw path, so that path parameters and query strings never become label values.

    Plain ASGI rather than ``BaseHTTPMiddleware``: it sees the status the moment the response
    starts and adds no task per request.
    """

    def __init__(self, app: ASGIApp, metrics: TargetMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into the scope it was given, which is this one.
            path = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.duration.labels(path).observe(time.perf_counter() - start)
