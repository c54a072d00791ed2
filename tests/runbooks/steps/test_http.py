"""``http`` steps against a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.runbooks.procedures import runner
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.runbooks.steps.http import Request, parse_request


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy", "db": "ok"})


async def echo(request: web.Request) -> web.Response:
    body = await request.text()
    return web.json_response(
        {"method": request.method, "auth": request.headers.get("Authorization"), "body": body}
    )


async def failing(_request: web.Request) -> web.Response:
    return web.Response(status=503, text="upstream down")


async def huge(_request: web.Request) -> web.Response:
    return web.Response(text="x" * 1_000_000)


async def slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(3)
    return web.Response(text="late")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/fail", failing)
    app.router.add_get("/huge", huge)
    app.router.add_get("/slow", slow)
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await app_runner.cleanup()


def http_runbook(request: str, attributes: str = "") -> str:
    return f"# Ops\n## Call\n```http {attributes}\n{request}\n```\n"


async def test_a_get_prints_the_status_and_the_json_body(tmp_path: Path, server: str) -> None:
    run = runner(tmp_path, http_runbook("GET $API/health"), {"env": {"API": server}})

    outcome = await run.run(RunRequest("Call", "ana"))

    assert outcome.exit is RunExit.OK
    assert outcome.steps[0].output.splitlines() == [
        "HTTP/1.1 200 OK",
        "{",
        '  "status": "healthy",',
        '  "db": "ok"',
        "}",
    ]
    assert outcome.steps[0].command == f"GET {server}/health\n"


async def test_headers_and_body_are_sent_with_a_secret_token_redacted(tmp_path: Path, server: str) -> None:
    request = (
        f'# purge the cache\nPOST {server}/echo\nAuthorization: Bearer ${{API_TOKEN}}\n\n{{"paths": ["/"]}}'
    )
    run = runner(tmp_path, http_runbook(request), environ={"API_TOKEN": "tok-abcdef123"})

    outcome = await run.run(RunRequest("Call", "ana"))

    answer = json.loads("\n".join(outcome.steps[0].output.splitlines()[1:]))
    assert answer == {"method": "POST", "auth": "Bearer ***", "body": '{"paths": ["/"]}'}
    assert "tok-abcdef123" not in outcome.steps[0].command


async def test_a_5xx_fails_the_step(tmp_path: Path, server: str) -> None:
    outcome = await runner(tmp_path, http_runbook(f"{server}/fail")).run(RunRequest("Call", "ana"))

    step = outcome.steps[0]
    assert (step.status, outcome.exit) == (StepStatus.FAILED, RunExit.FAILED)
    assert step.output == "HTTP/1.1 503 Service Unavailable\nupstream down\n"
    assert step.reason == "status 503 Service Unavailable, expected 2xx or 3xx"


async def test_a_huge_body_is_cut_and_a_slow_one_times_out(tmp_path: Path, server: str) -> None:
    big = (await runner(tmp_path, http_runbook(f"GET {server}/huge")).run(RunRequest("Call", "ana"))).steps[0]
    assert big.status is StepStatus.SUCCEEDED
    assert big.output.endswith("… (the body is cut at 64 KB)\n") and len(big.output) < 70_000

    slow = await runner(tmp_path, http_runbook(f"GET {server}/slow", "{timeout=1s}")).run(
        RunRequest("Call", "ana")
    )
    assert slow.steps[0].status is StepStatus.TIMED_OUT


async def test_a_refused_connection_fails_with_a_reason(tmp_path: Path) -> None:
    step = (
        await runner(tmp_path, http_runbook("GET http://127.0.0.1:9/health")).run(RunRequest("Call", "ana"))
    ).steps[0]
    assert (step.status, step.reason) == (StepStatus.FAILED, "connection refused")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://x/health", Request("GET", "https://x/health")),
        (
            "delete https://x/a HTTP/1.1\nX-A: 1\n\nbody\nmore",
            Request("DELETE", "https://x/a", [("X-A", "1")], "body\nmore"),
        ),
        ("", "the block holds no request line (e.g. GET https://api.example.com/health)"),
        ("curl https://x", "'curl https://x' is not a request line like GET https://…"),
        (
            "GET https://x\nnot a header",
            "a header line must read Name: value, and a blank line must come before the body",
        ),
    ],
)
def test_reading_a_request(text: str, expected: Request | str) -> None:
    assert parse_request(text) == expected


async def test_a_block_that_is_not_a_request_does_not_start(tmp_path: Path) -> None:
    outcome = await runner(tmp_path, http_runbook("curl https://x")).run(RunRequest("Call", "ana"))
    assert outcome.exit is RunExit.NOT_STARTED
    assert outcome.steps[0].reason == "step 1: 'curl https://x' is not a request line like GET https://…"
