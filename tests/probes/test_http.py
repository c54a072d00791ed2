"""The ``http`` probe against real local servers: aiohttp apps, a silent socket, a TLS endpoint."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from tests.probes import standins
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.errors import ProbeError
from vigil.probes.base import Result
from vigil.probes.http import BODY_LIMIT, HttpCheck, HttpProbe

HEALTHY = {
    "status": "healthy",
    "code": 200,
    "ready": True,
    "version": "1.2",
    "checks": {"database": {"status": "healthy", "latency_ms": 3}},
    "items": [{"name": "cpu-0"}, {"name": "gpu-0"}],
    "tags": ["cpu", "gpu"],
    "queue": {"depth": 12},
}

UNHEALTHY = {
    "status": "unhealthy",
    "checks": {"database": {"status": "unhealthy"}, "cache": {"status": "healthy"}},
    "queue": {"depth": 500},
}


PEER_PORT = web.RequestKey("peer_port", int)


def make_app(seen: list[web.Request]) -> web.Application:
    async def healthy(request: web.Request) -> web.Response:
        return web.json_response(HEALTHY)

    async def degraded(request: web.Request) -> web.Response:
        return web.json_response({"status": "degraded"})

    async def unhealthy(request: web.Request) -> web.Response:
        return web.json_response(UNHEALTHY, status=503)

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"status": "x"}, status=int(request.match_info["code"]))

    async def text(request: web.Request) -> web.Response:
        return web.Response(text=request.query.get("text", "all systems operational"))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query["seconds"]))
        return web.Response(text="late")

    async def echo(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.text()
        return web.json_response({"method": request.method, "body": body, "headers": dict(request.headers)})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/healthy")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (2 * BODY_LIMIT))

    async def peer(request: web.Request) -> web.Response:
        assert request.transport is not None
        request[PEER_PORT] = request.transport.get_extra_info("peername")[1]
        seen.append(request)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthy", healthy)
    app.router.add_get("/degraded", degraded)
    app.router.add_get("/unhealthy", unhealthy)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/text", text)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/big", big)
    app.router.add_get("/peer", peer)
    return app


async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    app_runner = web.AppRunner(app, shutdown_timeout=0)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return app_runner, int(app_runner.addresses[0][1])


@pytest.fixture
def seen() -> list[web.Request]:
    return []


@pytest.fixture
async def base(seen: list[web.Request]) -> AsyncIterator[str]:
    """The URL of a local aiohttp app with the routes above."""
    app_runner, port = await serve(make_app(seen))
    yield f"http://127.0.0.1:{port}"
    await app_runner.cleanup()


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[bytes], Awaitable[int]]]:
    """Starts servers that read a request, answer with the given bytes as they are, and hang up."""
    servers: list[asyncio.Server] = []

    async def start(reply: bytes) -> int:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
            writer.close()

        servers.append(await asyncio.start_server(answer, "127.0.0.1", 0))
        return int(servers[-1].sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a fresh certificate that no client trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    return standins.self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def probe() -> AsyncIterator[HttpProbe]:
    http = HttpProbe()
    yield http
    await http.close()


def check(url: str, **fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"http": url, **fields})


async def run(runner: CheckRunner, url: str, **fields: Any) -> Result:
    return await runner.run(CheckSpec("api", "health", check(url, **fields)))


async def test_a_healthy_json_endpoint_passes_and_reports_its_numbers(runner: CheckRunner, base: str) -> None:
    result = await run(runner, f"{base}/healthy", expect={"json": {"status": "healthy"}})

    assert (result.ok, result.reason) == (True, None)
    assert result.values["status_code"] == 200
    assert result.values["body_bytes"] > 0
    assert 0 < result.values["latency_ms"] < 1000


@pytest.mark.parametrize(
    ("path", "expected", "reason"),
    [
        ("/status/500", None, "status 500, expected 2xx"),
        ("/status/503", 200, "status 503, expected 200"),
        ("/status/503", [200, 204], "status 503, expected 200 or 204"),
        ("/status/404", "2xx", "status 404, expected 2xx"),
        ("/status/503", "5xx", None),
        ("/status/204", [200, 204], None),
        ("/status/201", None, None),
        ("/status/418", "418", None),
    ],
)
async def test_the_status_code_is_judged_against_codes_lists_and_patterns(
    runner: CheckRunner, base: str, path: str, expected: Any, reason: str | None
) -> None:
    expect = {} if expected is None else {"status": expected}

    result = await run(runner, base + path, expect=expect)

    assert (result.ok, result.reason) == (reason is None, reason)
    assert result.values["status_code"] == int(path.rsplit("/", 1)[1])


@pytest.mark.parametrize(
    ("json", "reason"),
    [
        ({"status": "healthy"}, None),
        ({"checks": {"database": {"status": "healthy"}}}, None),
        ({"checks.database.status": "healthy"}, None),
        ({"ready": True, "code": 200, "version": "1.2"}, None),
        (["checks.database.status == healthy"], None),
        (["items.1.name == gpu-0", "items.-1.name == gpu-0"], None),
        (["tags contains gpu", "version contains 1."], None),
        (["queue.depth < 100", "queue.depth >= 12", "checks.database.latency_ms <= 3"], None),
        (["code == 200", "ready == true", "code != 500"], None),
        (["status != healthy"], 'json status == "healthy", expected != "healthy"'),
        ({"checks.database.status": "down"}, 'json checks.database.status == "healthy", expected "down"'),
        (
            {"checks": {"database": {"status": "down"}}},
            'json checks.database.status == "healthy", expected "down"',
        ),
        (["queue.depth > 100"], "json queue.depth == 12, expected > 100"),
        (["tags contains tpu"], 'json tags == ["cpu", "gpu"], expected contains "tpu"'),
        ({"ready": "yes"}, 'json ready == true, expected "yes"'),
        (["checks.cache.status == healthy"], "json checks.cache.status missing"),
        (["items.5.name == gpu-0"], "json items.5.name missing"),
    ],
)
async def test_json_fields_are_judged_by_dotted_paths_and_conditions(
    runner: CheckRunner, base: str, json: Any, reason: str | None
) -> None:
    result = await run(runner, f"{base}/healthy", expect={"json": json})

    assert (result.ok, result.reason) == (reason is None, reason)


async def test_a_mismatched_field_says_what_came_back_and_what_was_expected(
    runner: CheckRunner, base: str
) -> None:
    result = await run(runner, f"{base}/degraded", expect={"json": {"status": "healthy"}})

    assert result.reason == 'json status == "degraded", expected "healthy"'


async def test_a_check_with_only_json_expectations_still_expects_2xx_and_names_every_failure(
    runner: CheckRunner, base: str
) -> None:
    json = {"checks.database.status": "healthy", "checks.cache.status": "healthy"}

    result = await run(runner, f"{base}/unhealthy", expect={"json": json})

    assert (
        result.reason
        == 'status 503, expected 2xx; json checks.database.status == "unhealthy", expected "healthy"'
    )


async def test_every_expectation_that_failed_is_named_in_order_status_json_body_latency(
    runner: CheckRunner, base: str
) -> None:
    expect = {
        "status": 200,
        "json": ["status == healthy", "queue.depth < 100", "checks.cache.status == healthy"],
        "body": "all good",
        "max_ms": 0.001,
    }

    result = await run(runner, f"{base}/unhealthy", expect=expect)

    assert result.reason is not None
    assert result.reason.split("; ")[:-1] == [
        "status 503, expected 200",
        'json status == "unhealthy", expected "healthy"',
        "json queue.depth == 500, expected < 100",
        "body does not match /all good/",
    ]
    assert result.reason.split("; ")[-1].startswith("took ")


async def test_past_five_failed_expectations_the_rest_are_only_counted(
    runner: CheckRunner, base: str
) -> None:
    json = [f"queue.depth < {n}" for n in range(1, 8)]

    result = await run(runner, f"{base}/unhealthy", expect={"json": json})

    assert result.reason is not None
    parts = result.reason.split("; ")
    assert parts[0] == "status 503, expected 2xx"
    assert parts[1:5] == [f"json queue.depth == 500, expected < {n}" for n in range(1, 5)]
    assert parts[5] == "and 3 more"


async def test_a_body_that_is_not_json_fails_when_fields_are_expected(runner: CheckRunner, base: str) -> None:
    result = await run(runner, f"{base}/text?text=<html>oops", expect={"json": {"status": "healthy"}})

    assert not result.ok
    assert result.reason == 'body is not JSON: Expecting value at line 1 column 1; it starts "<html>oops"'


async def test_a_body_that_is_not_json_passes_when_no_fields_are_expected(
    runner: CheckRunner, base: str
) -> None:
    result = await run(runner, f"{base}/text?text=<html>oops")

    assert result.ok


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("operational", None),
        (r"^all \w+", None),
        ("^down", "body does not match /^down/"),
    ],
)
async def test_the_body_is_searched_with_a_regular_expression(
    runner: CheckRunner, base: str, pattern: str, reason: str | None
) -> None:
    result = await run(runner, f"{base}/text", expect={"body": pattern})

    assert (result.ok, result.reason) == (reason is None, reason)


async def test_an_answer_slower_than_max_ms_fails_with_how_long_it_took(
    runner: CheckRunner, base: str
) -> None:
    result = await run(runner, f"{base}/slow?seconds=0.25", expect={"max_ms": 100})

    assert not result.ok
    assert result.reason is not None
    took = int(result.reason.removeprefix("took ").split("ms")[0])
    assert result.reason == f"took {took}ms, expected at most 100ms"
    assert took >= 250
    assert result.values["latency_ms"] >= 250


async def test_a_server_that_never_answers_times_out_at_the_checks_timeout(
    runner: CheckRunner, silent_port: int
) -> None:
    start = time.monotonic()

    result = await run(runner, f"http://127.0.0.1:{silent_port}/", timeout="300ms")

    assert (result.ok, result.reason) == (False, "timed out after 300ms")
    assert time.monotonic() - start < 1.0


async def test_a_refused_connection_says_so_with_host_and_port(runner: CheckRunner, closed_port: int) -> None:
    result = await run(runner, f"http://127.0.0.1:{closed_port}/health")

    assert (result.ok, result.reason) == (False, f"127.0.0.1:{closed_port}: connection refused")


async def test_a_host_name_that_does_not_resolve_says_so(runner: CheckRunner) -> None:
    # .invalid never resolves (RFC 6761), so this asks the resolver without depending on the internet.
    result = await run(runner, "https://vigil-test.invalid/health", timeout="5s")

    assert result.reason is not None
    assert result.reason.startswith("vigil-test.invalid:443: cannot resolve host name")


async def test_a_post_sends_its_json_body_and_headers(
    runner: CheckRunner, base: str, seen: list[web.Request]
) -> None:
    result = await run(
        runner,
        f"{base}/echo",
        method="POST",
        headers={"X-Token": "abc"},
        body={"name": "vigil", "tags": [1, 2]},
        expect={"json": {"method": "POST", "headers.X-Token": "abc"}},
    )

    assert result.ok, result.reason
    [request] = seen
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("vigil/")
    assert await request.json() == {"name": "vigil", "tags": [1, 2]}


async def test_a_text_body_is_sent_as_it_is(runner: CheckRunner, base: str) -> None:
    result = await run(
        runner,
        f"{base}/echo",
        method="PUT",
        headers={"Content-Type": "text/csv"},
        body="a,b\n1,2\n",
        expect={"json": {"method": "PUT", "body": "a,b\n1,2\n", "headers.Content-Type": "text/csv"}},
    )

    assert result.ok, result.reason


@pytest.mark.parametrize(
    ("fields", "reason", "status"),
    [
        ({}, None, 200),
        ({"follow_redirects": False}, "status 302, expected 2xx", 302),
        ({"follow_redirects": False, "expect": {"status": 302}}, None, 302),
    ],
)
async def test_redirects_are_followed_unless_told_not_to(
    runner: CheckRunner, base: str, fields: dict[str, Any], reason: str | None, status: int
) -> None:
    result = await run(runner, f"{base}/redirect", **fields)

    assert (result.ok, result.reason) == (reason is None, reason)
    assert result.values["status_code"] == status


async def test_a_redirect_loop_fails_with_a_readable_reason(runner: CheckRunner, base: str) -> None:
    result = await run(runner, f"{base}/loop")

    assert (result.ok, result.reason) == (False, "too many redirects (10)")


@pytest.mark.parametrize("path", ["/status/500", "/healthy"])
async def test_a_password_in_the_url_never_appears_in_a_reason(
    probe: HttpProbe, base: str, path: str
) -> None:
    url = base.replace("http://", "http://admin:hunter2@") + path
    expect = {"json": {"status": "down"}, "body": "nope"}

    observation = await probe.observe(check(url, expect=expect))

    assert not observation.ok
    assert "hunter2" not in str(observation.reason)


async def test_a_password_in_an_unreachable_url_never_appears_in_a_reason(
    probe: HttpProbe, closed_port: int
) -> None:
    with pytest.raises(ProbeError) as raised:
        await probe.observe(check(f"http://admin:hunter2@127.0.0.1:{closed_port}/"))

    assert "hunter2" not in str(raised.value)
    assert str(raised.value) == f"127.0.0.1:{closed_port}: connection refused"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "server closed the connection without answering"),
        (
            b"HTTP/1.1 2OO NOT OK\r\n\r\n",
            "not a valid HTTP response: Bad status line: Invalid status code: b'HTTP/1.1 2OO NOT OK'",
        ),
    ],
)
async def test_a_server_that_breaks_http_fails_with_one_readable_line(
    runner: CheckRunner, raw_server: Callable[[bytes], Awaitable[int]], reply: bytes, reason: str
) -> None:
    port = await raw_server(reply)

    result = await run(runner, f"http://admin:hunter2@127.0.0.1:{port}/health")

    assert (result.ok, result.reason) == (False, reason)


async def test_a_huge_body_is_read_only_up_to_the_limit(runner: CheckRunner, base: str) -> None:
    plain = await run(runner, f"{base}/big")
    as_json = await run(runner, f"{base}/big", expect={"json": {"status": "ok"}})

    assert plain.ok
    assert plain.values["body_bytes"] == BODY_LIMIT
    assert as_json.reason == "body is larger than 1024 KiB, too big to judge as JSON"


async def test_a_head_request_is_judged_by_its_status(runner: CheckRunner, base: str) -> None:
    result = await run(runner, f"{base}/healthy", method="HEAD")

    assert result.ok
    assert result.values["body_bytes"] == 0


async def test_checks_share_one_kept_alive_connection(
    probe: HttpProbe, base: str, seen: list[web.Request]
) -> None:
    for _ in range(3):
        assert (await probe.observe(check(f"{base}/peer"))).ok

    # The client's source port stays the same only if the connection was reused.
    assert len({request[PEER_PORT] for request in seen}) == 1


async def test_the_probe_works_again_after_being_closed(probe: HttpProbe, base: str) -> None:
    assert (await probe.observe(check(f"{base}/healthy"))).ok
    await probe.close()

    assert (await probe.observe(check(f"{base}/healthy"))).ok


async def test_a_self_signed_certificate_is_not_trusted(
    runner: CheckRunner, self_signed: ssl.SSLContext
) -> None:
    app_runner, port = await serve(make_app([]), self_signed)
    try:
        result = await run(runner, f"https://127.0.0.1:{port}/healthy")
    finally:
        await app_runner.cleanup()

    assert not result.ok
    assert str(result.reason).startswith(f"127.0.0.1:{port}: TLS certificate not trusted: "), result.reason


async def test_a_self_signed_certificate_passes_when_verification_is_off(
    runner: CheckRunner, self_signed: ssl.SSLContext
) -> None:
    app_runner, port = await serve(make_app([]), self_signed)
    try:
        result = await run(runner, f"https://127.0.0.1:{port}/healthy", tls_verify=False)
    finally:
        await app_runner.cleanup()

    assert (result.ok, result.reason) == (True, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"http": "ftp://example.com/"}, "expected an http:// or https:// URL with a host"),
        ({"http": "http://admin:hunter2@/x"}, "http://admin:***@/x"),
        ({"http": "https://x", "expect": {"status": "abc"}}, "status 'abc' is not a code like 200"),
        ({"http": "https://x", "expect": {"status": 999}}, "status 999 is not an HTTP status code"),
        ({"http": "https://x", "expect": {"status": []}}, "status needs at least one code"),
        ({"http": "https://x", "expect": {"json": ["status = ok"]}}, "cannot read condition 'status = ok'"),
        ({"http": "https://x", "expect": {"json": ["depth < many"]}}, "right side must be a number"),
        ({"http": "https://x", "expect": {"body": "("}}, "body is not a valid regular expression"),
    ],
)
def test_a_check_that_cannot_work_is_rejected_when_the_stack_file_is_read(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        HttpCheck.model_validate(fields)

    assert message in str(raised.value)
    assert "hunter2" not in "".join(str(e["msg"]) for e in raised.value.errors())
