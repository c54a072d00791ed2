"""The demo target over real HTTP: a subprocess started the way ``vigil demo`` starts it, and the
bare app through ``httpx.ASGITransport`` where only its answers matter; plus the demo stack file."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vigil.config.load import parse_stack
from vigil.demo import demo_stack_yaml, start_target_process, stop_target_process
from vigil.demo.target import TARGET_VERSION, create_target_app, serve_target
from vigil.engine.once import run_once
from vigil.errors import VigilError


@pytest.fixture
def target(target_url: str) -> Iterator[httpx.Client]:
    """A client of the shared target process, mended after each test whatever it broke."""
    with httpx.Client(base_url=target_url, timeout=10.0) as client:
        yield client
        client.post("/chaos", json={"mode": "recover"}).raise_for_status()


@pytest.fixture
async def app_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_target_app(rng=random.Random(7)))
    async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
        yield client


def samples(metrics_text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called ``name``, keyed by its sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name
    }


# --- the target as a subprocess ---------------------------------------------------------------


def test_a_healthy_target_answers_health_with_its_version(target: httpx.Client) -> None:
    response = target.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "version": TARGET_VERSION}


def test_chaos_fail_makes_health_answer_500_until_recover(target: httpx.Client) -> None:
    assert target.post("/chaos", json={"mode": "fail"}).json()["mode"] == "fail"
    failed = target.get("/health")
    assert failed.status_code == 500
    assert failed.json()["status"] == "unhealthy"

    assert target.post("/chaos", json={"mode": "recover"}).json()["mode"] == "normal"
    assert target.get("/health").status_code == 200


def test_slow_mode_delays_health_and_answers_by_at_least_the_configured_latency(target: httpx.Client) -> None:
    target.post("/chaos", json={"mode": "slow", "latency_ms": 300}).raise_for_status()
    for path in ("/health", "/api/answer"):
        start = time.perf_counter()
        response = target.get(path)
        assert response.status_code == 200
        assert time.perf_counter() - start >= 0.3, path


def test_db_down_makes_readiness_503_with_the_database_down_and_health_degraded(target: httpx.Client) -> None:
    target.post("/chaos", json={"mode": "db_down"}).raise_for_status()
    ready = target.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "degraded",
        "checks": {"db": {"status": "down"}, "cache": {"status": "healthy"}},
    }
    health = target.get("/health")
    assert (health.status_code, health.json()["status"]) == (503, "degraded")


def test_metrics_count_a_failed_answer_with_status_500_and_time_it_in_buckets(target: httpx.Client) -> None:
    target.post("/chaos", json={"mode": "fail"}).raise_for_status()
    assert target.get("/api/answer").status_code == 500

    response = target.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    counts = samples(response.text, "http_requests_total")
    assert counts[(("method", "GET"), ("path", "/api/answer"), ("status", "500"))] >= 1
    buckets = samples(response.text, "http_request_duration_seconds_bucket")
    answer_buckets = {labels: n for labels, n in buckets.items() if ("path", "/api/answer") in labels}
    assert len(answer_buckets) > 2  # the histogram's buckets, not a single summary line
    assert answer_buckets[(("le", "+Inf"), ("path", "/api/answer"))] >= 1
    assert "demo_queue_depth" in response.text


async def test_the_demo_stack_passes_on_a_healthy_target_and_blames_postgres_when_the_db_is_down(
    target: httpx.Client, target_url: str
) -> None:
    stack = parse_stack("demo.yaml", demo_stack_yaml(target_url))
    healthy = await run_once(stack)
    # A heartbeat is judged from pings `vigil up` stores; a one-off run with no store says so.
    # Its backup job has never run here: a one-off pass finds no verified backup on disk.
    assert [(r.check_id, r.reason) for r in healthy if not r.ok] == [
        ("backups.vigil-db", "no verified backup yet")
    ]
    assert [r.check_id for r in healthy if not r.judged] == ["worker.beat"]

    async with httpx.AsyncClient(base_url=target_url) as client:
        (await client.post("/chaos", json={"mode": "db_down"})).raise_for_status()
        (await client.post("/chaos", json={"mode": "vendor_outage"})).raise_for_status()
    verdicts = {r.check_id: r.ok for r in await run_once(stack)}
    assert verdicts == {
        "api.health": False,
        "ready.ready": False,
        "postgres.status": False,
        "cache.status": True,
        "worker.beat": True,  # not judged: ok is True and fails nothing
        "vendor.status": False,
        "backups.vigil-db": False,
    }


def test_a_stopped_target_process_exits_and_no_longer_answers() -> None:
    process, url = start_target_process()
    stop_target_process(process)
    assert process.returncode is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=1.0)


# --- the app in process -----------------------------------------------------------------------


async def test_a_chaos_body_with_an_unknown_mode_is_refused_with_422_json(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.post("/chaos", json={"mode": "explode"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["body", "mode"]


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "fail", "error_rate": 1.5},
        {"mode": "slow", "latency_ms": -1},
        {"mode": "fail", "typo": 1},
        {},
    ],
)
async def test_a_chaos_body_out_of_range_or_with_unknown_keys_is_refused(
    app_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert (await app_client.post("/chaos", json=body)).status_code == 422
    assert (await app_client.get("/chaos")).json()["mode"] == "normal"


async def test_faults_add_up_until_recover_clears_them_all(app_client: httpx.AsyncClient) -> None:
    await app_client.post("/chaos", json={"mode": "cache_down"})
    await app_client.post("/chaos", json={"mode": "slow", "latency_ms": 5})
    state = (await app_client.get("/chaos")).json()
    assert state == {
        "mode": "slow+cache_down",
        "modes": ["slow", "cache_down"],
        "error_rate": 0.0,
        "latency_ms": 5.0,
    }
    ready = (await app_client.get("/health/ready")).json()
    assert ready["checks"]["cache"] == {"status": "down"}

    await app_client.post("/chaos", json={"mode": "recover"})
    assert (await app_client.get("/chaos")).json()["modes"] == []
    assert (await app_client.get("/health/ready")).status_code == 200


async def test_fail_with_a_partial_error_rate_fails_some_answers_but_not_all(
    app_client: httpx.AsyncClient,
) -> None:
    await app_client.post("/chaos", json={"mode": "fail", "error_rate": 0.5})
    answers = await asyncio.gather(*(app_client.get("/api/answer") for _ in range(40)))
    failures = sum(r.status_code == 500 for r in answers)
    assert 0 < failures < 40
    assert {r.status_code for r in answers} == {200, 500}


async def test_the_queue_depth_gauge_counts_answers_in_flight(app_client: httpx.AsyncClient) -> None:
    await app_client.post("/chaos", json={"mode": "slow", "latency_ms": 400})
    in_flight = asyncio.create_task(app_client.get("/api/answer"))
    await asyncio.sleep(0.15)
    during = samples((await app_client.get("/metrics")).text, "demo_queue_depth")
    await in_flight
    after = samples((await app_client.get("/metrics")).text, "demo_queue_depth")
    assert (during[()], after[()]) == (1.0, 0.0)


async def test_unknown_paths_share_one_metrics_label_instead_of_one_each(
    app_client: httpx.AsyncClient,
) -> None:
    for path in ("/wp-admin", "/.env", "/etc/passwd"):
        assert (await app_client.get(path)).status_code == 404
    counts = samples((await app_client.get("/metrics")).text, "http_requests_total")
    assert counts[(("method", "GET"), ("path", "unmatched"), ("status", "404"))] == 3
    assert not any(("path", "/.env") in labels for labels in counts)


async def test_two_apps_in_one_process_keep_separate_metrics() -> None:
    first, second = create_target_app(), create_target_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as client:
        await client.get("/health")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as client:
        counts = samples((await client.get("/metrics")).text, "http_requests_total")
    assert not any(("path", "/health") in labels for labels in counts)


async def test_serve_target_announces_the_port_it_got_for_port_zero() -> None:
    announced: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_target("127.0.0.1", 0, on_ready=announced.set_result))
    try:
        url = await asyncio.wait_for(announced, 10)
        assert not url.endswith(":0")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/health")).status_code == 200
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server


async def test_serve_target_refuses_a_port_in_use_with_a_vigil_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(VigilError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve_target("127.0.0.1", port)


# --- the demo stack file ----------------------------------------------------------------------


def test_the_demo_stack_parses_and_pages_the_log_channel_by_default() -> None:
    stack = parse_stack("demo.yaml", demo_stack_yaml("http://127.0.0.1:8080/")).model
    assert list(stack.services) == ["api", "ready", "postgres", "cache", "worker", "vendor"]
    assert stack.services["api"].depends_on == ["postgres", "cache"]
    health = stack.services["api"].checks["health"]
    assert (health.target, health.every) == ("http://127.0.0.1:8080/health", 2.0)
    assert health.alert is not None
    assert (health.alert.after, health.alert.severity) == (2, "P1")
    assert stack.notify.default == ["demo-log"]
    assert stack.notify.channels["demo-log"].kind == "log"


def test_a_webhook_url_adds_a_webhook_channel_that_is_paged_by_default() -> None:
    hook = "http://127.0.0.1:9999/hook?token=$abc"
    notify = parse_stack("demo.yaml", demo_stack_yaml("http://127.0.0.1:8080", hook)).model.notify
    assert notify.default == ["demo-log", "demo-webhook"]
    # A literal $ in the URL stays itself instead of being read as a ${VAR} reference.
    assert notify.channels["demo-webhook"].target == hook


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host/", "http://host/\nservices: {}"])
def test_a_target_url_that_is_not_a_plain_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="target_url"):
        demo_stack_yaml(url)
