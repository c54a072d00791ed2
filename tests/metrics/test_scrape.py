"""Scraping over real HTTP: the demo target, local aiohttp targets that misbehave on purpose, and a
real Prometheus scraping the same targets as the oracle for what gets stored."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, start_http_server
from pydantic import ValidationError

from tests.conftest import free_port
from vigil.config.metrics import ServiceMetrics
from vigil.demo import start_target_process, stop_target_process
from vigil.engine.clock import FakeClock
from vigil.metrics.scrape import Scraper, scrape
from vigil.metrics.series import Matcher, MatchOp, SeriesData, is_stale
from vigil.metrics.store import SeriesStore

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
START = datetime(2026, 1, 1, 12, 0, 0, 123_987, tzinfo=UTC)


@dataclass
class Target:
    """A local HTTP target answering ``/metrics`` with whatever the test sets."""

    url: str = ""
    body: bytes = b""
    content_type: str = TEXT
    status: int = 200
    chunks: int = 0  # > 0: stream that many MiB, without a Content-Length
    stall: bool = False
    requests: list[web.Request] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.stall:
            await self.release.wait()
        if self.chunks:
            response = web.StreamResponse(headers={"Content-Type": self.content_type})
            await response.prepare(request)
            try:
                for _ in range(self.chunks):
                    await response.write(b"a 1\n" * (256 * 1024))
            except ConnectionError:
                pass  # the scraper hung up once it had enough: what is being tested
            return response
        return web.Response(body=self.body, status=self.status, headers={"Content-Type": self.content_type})


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    target = Target()
    app = web.Application()
    app.router.add_get("/metrics", target.handle)
    runner = web.AppRunner(app, shutdown_timeout=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    yield target
    target.release.set()
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    process, url = start_target_process()
    try:
        httpx.get(f"{url}/api/answer", timeout=10.0)
        yield url
    finally:
        stop_target_process(process)


def names(samples: list[SeriesData]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for series in samples:
        found.setdefault(series.labels["__name__"], []).append(dict(series.labels))
    return found


def everything(store: SeriesStore) -> list[SeriesData]:
    return store.select([Matcher("__name__", MatchOp.REGEX, ".+")], 0.0, 1e12)


def latest(store: SeriesStore, name: str) -> float:
    [series] = store.select([Matcher("__name__", MatchOp.EQUAL, name)], 0.0, 1e12)
    return series.values[-1]


# --- parsing -----------------------------------------------------------------------------------


async def test_the_demo_targets_text_format_gives_each_sample_under_its_full_name(
    session: aiohttp.ClientSession, demo_url: str
) -> None:
    outcome = await scrape(session, f"{demo_url}/metrics", 5.0)
    assert outcome.ok, outcome.reason
    found = {(s.labels["__name__"], s.labels.get("le", "")) for s in outcome.samples}
    assert ("http_requests_total", "") in found
    assert ("http_requests_created", "") in found  # Prometheus 2.42 stores these too
    assert {"0.005", "1.0", "+Inf"} <= {
        le for name, le in found if name == "http_request_duration_seconds_bucket"
    }
    assert {"http_request_duration_seconds_sum", "http_request_duration_seconds_count"} <= {
        n for n, _ in found
    }


async def test_openmetrics_is_chosen_by_content_type(session: aiohttp.ClientSession, target: Target) -> None:
    target.content_type = OPENMETRICS
    target.body = (
        b'# TYPE jobs counter\njobs_total{kind="a"} 3\njobs_created{kind="a"} 1.7e9\n'
        b'# TYPE build info\nbuild_info{version="1.2"} 1\n# EOF\n'
    )
    outcome = await scrape(session, target.url, 5.0)
    assert [(s.labels, s.value) for s in outcome.samples] == [
        ({"__name__": "jobs_total", "kind": "a"}, 3.0),
        ({"__name__": "jobs_created", "kind": "a"}, 1.7e9),
        ({"__name__": "build_info", "version": "1.2"}, 1.0),
    ]
    target.body = b"jobs_total 3\n"  # OpenMetrics demands the # EOF line
    assert (await scrape(session, target.url, 5.0)).reason == "not OpenMetrics: Missing # EOF at end"


async def test_the_scraper_asks_as_prometheus_does_and_sends_configured_headers(
    session: aiohttp.ClientSession, target: Target
) -> None:
    await scrape(session, target.url, 2.5, {"Authorization": "Bearer s3cret"})
    headers = target.requests[0].headers
    assert headers["Accept"].startswith("application/openmetrics-text;version=1.0.0,")
    assert (headers["X-Prometheus-Scrape-Timeout-Seconds"], headers["Authorization"]) == (
        "2.5",
        "Bearer s3cret",
    )


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><body>Bad gateway</body></html>", "not Prometheus text format: invalid metric name:<html>"),
        (b'{"status": "ok"}', "not Prometheus text format: Invalid labels"),
        (b"\xff\xfe\x00garbage", "body is not UTF-8 text"),
    ],
)
async def test_garbage_fails_the_scrape_with_a_one_line_reason(
    session: aiohttp.ClientSession, target: Target, body: bytes, reason: str
) -> None:
    target.body = body
    outcome = await scrape(session, target.url, 5.0)
    assert not outcome.ok
    assert outcome.reason is not None and outcome.reason.startswith(reason) and "\n" not in outcome.reason


async def test_a_body_over_the_limit_fails_the_scrape(session: aiohttp.ClientSession, target: Target) -> None:
    target.chunks = 11  # 11 MiB streamed: no Content-Length to refuse it by
    outcome = await scrape(session, target.url, 5.0)
    assert (outcome.ok, outcome.reason) == (False, "body larger than 10485760 bytes")
    target.chunks, target.body = 0, b"a 1\n" * 1000  # declared length over a smaller limit
    outcome = await scrape(session, target.url, 5.0, body_limit=1000)
    assert outcome.reason == "body larger than 1000 bytes"


async def test_a_target_that_does_not_answer_in_time_fails_the_scrape(
    session: aiohttp.ClientSession, target: Target
) -> None:
    target.stall = True
    start = time.perf_counter()
    outcome = await scrape(session, target.url, 0.2)
    assert (outcome.ok, outcome.reason) == (False, "no answer within 200ms")
    assert time.perf_counter() - start < 1.0


async def test_an_answer_other_than_200_fails_the_scrape(
    session: aiohttp.ClientSession, target: Target
) -> None:
    target.status, target.body = 503, b"a 1\n"
    assert (await scrape(session, target.url, 5.0)).reason == "HTTP 503 Service Unavailable"


async def test_a_refused_connection_fails_the_scrape(session: aiohttp.ClientSession) -> None:
    port = free_port()
    outcome = await scrape(session, f"http://127.0.0.1:{port}/metrics", 5.0)
    assert outcome.reason == f"127.0.0.1:{port}: connection refused"


# --- the scraper and the store -----------------------------------------------------------------


def scraper_for(target: Target, store: SeriesStore, **config: object) -> tuple[Scraper, FakeClock]:
    """A scraper of ``target`` as the service ``api``, on a fake clock that starts at ``START``."""
    clock = FakeClock(START)
    metrics = ServiceMetrics.model_validate({"url": target.url, **config})
    return Scraper({"api": metrics}, store, clock=clock, jitter=0.0), clock


async def test_scraped_series_get_job_instance_and_static_labels_at_the_scrape_time(target: Target) -> None:
    target.body = b'queue_depth{job="worker"} 7\n'
    store = SeriesStore()
    scraper, _ = scraper_for(target, store, labels={"env": "prod"})
    await scraper.scrape_once("api")
    await scraper.close()
    instance = target.url.split("/")[2]
    [series] = store.select([Matcher("__name__", MatchOp.EQUAL, "queue_depth")], 0.0, 1e12)
    assert dict(series.labels) == {
        "__name__": "queue_depth", "job": "api", "instance": instance, "env": "prod", "exported_job": "worker",
    }  # fmt: skip
    assert (list(series.timestamps), list(series.values)) == ([1767268800.123], [7.0])


async def test_each_scrape_reports_up_duration_and_counts_like_prometheus(target: Target) -> None:
    target.body = b"a 1\nb 2\n"
    store = SeriesStore()
    scraper, clock = scraper_for(target, store)
    await scraper.scrape_once("api")
    assert [latest(store, name) for name in ("up", "vigil_scrape_up", "scrape_samples_scraped")] == [1, 1, 2]
    assert latest(store, "scrape_series_added") == 2
    assert 0 < latest(store, "scrape_duration_seconds") < 1
    target.body = b"a 1\nb 2\nc 3\n"
    await clock.advance(15)
    await scraper.scrape_once("api")
    await scraper.close()
    assert (latest(store, "scrape_series_added"), latest(store, "scrape_samples_post_metric_relabeling")) == (
        1,
        3,
    )


async def test_a_failed_scrape_writes_up_0_and_marks_every_series_of_the_target_stale(target: Target) -> None:
    target.body = b"a 1\nb 2\n"
    store = SeriesStore()
    scraper, clock = scraper_for(target, store)
    await scraper.scrape_once("api")
    target.body = b"<html>oops</html>"
    await clock.advance(15)
    outcome = await scraper.scrape_once("api")
    await scraper.close()
    assert scraper.last["api"] is outcome and not outcome.ok
    assert (
        latest(store, "up"),
        latest(store, "vigil_scrape_up"),
        latest(store, "scrape_samples_scraped"),
    ) == (0, 0, 0)
    assert is_stale(latest(store, "a")) and is_stale(latest(store, "b"))


async def test_a_series_gone_from_the_next_scrape_gets_a_stale_marker_at_that_scrape(target: Target) -> None:
    target.body = b"a 1\nb 2\n"
    store = SeriesStore()
    scraper, clock = scraper_for(target, store)
    await scraper.scrape_once("api")
    target.body = b"a 1\n"
    await clock.advance(15)
    await scraper.scrape_once("api")
    await scraper.close()
    [b] = store.select([Matcher("__name__", MatchOp.EQUAL, "b")], 0.0, 1e12)
    assert list(b.timestamps) == [1767268800.123, 1767268815.123]
    assert [is_stale(v) for v in b.values] == [False, True]
    assert not is_stale(latest(store, "a"))


async def test_samples_with_their_own_timestamp_keep_it_and_are_never_marked_stale(target: Target) -> None:
    target.body = b"a 1 1767268700000\n"  # 100 s before the scrape, in milliseconds
    store = SeriesStore()
    scraper, clock = scraper_for(target, store)
    await scraper.scrape_once("api")
    target.body = b""
    await clock.advance(15)
    await scraper.scrape_once("api")
    await scraper.close()
    [a] = store.select([Matcher("__name__", MatchOp.EQUAL, "a")], 0.0, 1e12)
    assert (list(a.timestamps), list(a.values)) == ([1767268700.0], [1.0])


async def test_the_scraper_scrapes_each_target_on_its_interval_and_a_bad_one_stops_no_other(
    target: Target, demo_url: str
) -> None:
    target.body = b"<html>"
    clock = FakeClock(START)
    store = SeriesStore()
    targets = {
        "demo": ServiceMetrics(url=f"{demo_url}/metrics", every=15.0),
        "broken": ServiceMetrics(url=target.url, every=15.0),
    }
    scraper = Scraper(targets, store, clock=clock, jitter=0.0)
    task = asyncio.create_task(scraper.run())
    for turn in (1, 2, 3):
        for _ in range(1000):  # real HTTP takes real time, whatever the fake clock says
            if scraper.scrapes >= 2 * turn:
                break
            await asyncio.sleep(0.01)
        assert scraper.scrapes == 2 * turn
        if turn < 3:  # a fourth turn could start before the cancel below
            await clock.advance(15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    up = {
        s.labels["job"]: list(s.values)
        for s in store.select([Matcher("__name__", MatchOp.EQUAL, "up")], 0, 1e12)
    }
    assert up == {"demo": [1.0, 1.0, 1.0], "broken": [0.0, 0.0, 0.0]}


# --- the stack file ----------------------------------------------------------------------------


def test_a_bare_url_is_a_metrics_endpoint_scraped_every_15s_with_a_10s_timeout() -> None:
    metrics = ServiceMetrics.model_validate("http://127.0.0.1:8080/metrics")
    assert (metrics.url, metrics.every, metrics.scrape_timeout) == (
        "http://127.0.0.1:8080/metrics",
        15.0,
        10.0,
    )
    assert ServiceMetrics.model_validate({"url": metrics.url, "every": "5s"}).scrape_timeout == 5.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "ftp://h/metrics"}, "expected an http:// or https:// URL"),
        ({"url": "http://h/metrics", "every": "5s", "timeout": "10s"}, "at most every (5s)"),
        ({"url": "http://h/metrics", "labels": {"job": "x"}}, "label job is always the service's name"),
        ({"url": "http://h/metrics", "labels": {"env-name": "x"}}, "must match [a-zA-Z_]"),
        ({"url": "http://h/metrics", "interval": "5s"}, "Extra inputs are not permitted"),
    ],
)
def test_a_wrong_metrics_endpoint_is_refused_saying_why(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ServiceMetrics.model_validate(config)


# --- the oracle: what a real Prometheus stores from the same targets ----------------------------


def openmetrics_registry() -> CollectorRegistry:
    """A target that answers Prometheus' Accept header with OpenMetrics, with the awkward cases:
    exposed job and instance labels, an info and a stateset metric, a summary, a NaN."""
    registry = CollectorRegistry()
    Counter("jobs", "Jobs.", ["job", "instance", "kind"], registry=registry).labels("j", "i", "a").inc(3)
    Histogram("lat_seconds", "Latency.", buckets=(0.1, 1, 2.5), registry=registry).observe(0.3)
    Info("build", "Build.", registry=registry).info({"version": "1.2"})
    Enum("state", "State.", states=["a", "b"], registry=registry)
    Gauge("temp", "Temp.", ["exported_job"], registry=registry).labels("x").set(float("nan"))
    return registry


def start_prometheus(workdir: Path, targets: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run scripts/install-peers.sh")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [address]}]} for job, address in targets.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("wb"),
    )
    return process, f"http://127.0.0.1:{port}"


async def scrapes_done(client: httpx.AsyncClient, jobs: set[str], count: int) -> None:
    """Wait until Prometheus has scraped every job at least ``count`` times."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            answer = await client.get("/api/v1/query", params={"query": "count_over_time(up[1m])"})
        except httpx.TransportError:
            answer = None  # not listening yet
        if answer is not None and answer.status_code == 200:  # 503 while it starts
            results = answer.json()["data"]["result"]
            if jobs <= {r["metric"]["job"] for r in results if float(r["value"][1]) >= count}:
                return
        await asyncio.sleep(0.1)
    pytest.fail(f"Prometheus did not scrape {sorted(jobs)} {count} times within 15s")


async def test_vigil_stores_the_same_series_as_a_real_prometheus(tmp_path: Path, demo_url: str) -> None:
    om_port = free_port()
    om_server, om_thread = start_http_server(om_port, addr="127.0.0.1", registry=openmetrics_registry())
    targets = {"demo": demo_url.removeprefix("http://"), "om": f"127.0.0.1:{om_port}"}
    process, prometheus_url = start_prometheus(tmp_path, targets)
    try:
        async with httpx.AsyncClient(base_url=prometheus_url, timeout=5.0) as client:
            await scrapes_done(client, set(targets), 2)
            store = SeriesStore()
            configs = {
                job: ServiceMetrics(url=f"http://{address}/metrics") for job, address in targets.items()
            }
            scraper = Scraper(configs, store)
            for job in targets:
                for _ in range(2):
                    assert (await scraper.scrape_once(job)).ok
            await scraper.close()
            # Once more, so Prometheus has seen what Vigil's own scrapes added (path="/metrics").
            await scrapes_done(client, set(targets), 3)
            for job in targets:
                answer = await client.get("/api/v1/series", params={"match[]": f'{{job="{job}"}}'})
                theirs = {frozenset(series.items()) for series in answer.json()["data"]}
                selected = store.select([Matcher("job", MatchOp.EQUAL, job)], 0.0, 1e12)
                ours = {
                    frozenset(s.labels.items()) for s in selected if s.labels["__name__"] != "vigil_scrape_up"
                }
                assert sorted(map(sorted, ours - theirs)) == sorted(map(sorted, theirs - ours)) == []
                assert len(ours) > 10
    finally:
        process.terminate()
        process.wait(10)
        om_server.shutdown()
        om_thread.join(5)
