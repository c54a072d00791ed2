"""Real processes for server tests: a switchable target, a webhook receiver, ``vigil up``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from tests.conftest import free_port, sqlite_store_url
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.serve import server_config
from vigil.store.database import open_database

VIGIL = str(Path(sys.executable).parent / "vigil")


class Switch(ThreadingHTTPServer):
    """An HTTP server in this process whose answers the test flips: the target and the receiver."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.healthy = True
        self.accepting = True  # as a webhook receiver: answer 200, or 500 when False
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def events(self) -> list[tuple[str, int]]:
        with self.lock:
            return [(m["event"], m["incident_id"]) for m in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Switch

    def do_GET(self) -> None:
        ok = self.server.healthy
        self._answer(200 if ok else 500, {"status": "healthy" if ok else "unhealthy"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.server.accepting:
            self._answer(500, {"error": "receiver down"})
            return
        with self.server.lock:
            self.server.received.append(json.loads(body))
        self._answer(200, {"ok": True})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Switch]:
    server = Switch()
    yield server
    server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Switch]:
    server = Switch()
    yield server
    server.shutdown()


class VigilProcess:
    """``vigil up`` as a user starts it, on a free port and its own SQLite store."""

    def __init__(self, stack: Path, db: str) -> None:
        self.stack = stack
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log = stack.parent / "vigil.log"
        self._tokens: dict[str, str] = {}

    def start(self, wait: float = 60) -> None:
        out = self.log.open("a")
        self.proc = subprocess.Popen(
            [VIGIL, "up", "-c", str(self.stack), "--db", self.db, "--port", str(self.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_until(self._ready, wait, f"vigil up on {self.url} to be ready ({self.log})")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"vigil up exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def api(self, path: str) -> Any:
        """A read as a viewer: the API is private unless the stack file says ``public_read``."""
        headers = {"Authorization": f"Bearer {self.token('viewer')}"}
        return httpx.get(f"{self.url}/api/v1{path}", headers=headers, timeout=5).json()

    def token(self, role: str) -> str:
        """A token of ``role``, made once per process through ``vigil token create``."""
        if role not in self._tokens:
            made = subprocess.run(
                [
                    VIGIL,
                    "token",
                    "create",
                    "--role",
                    role,
                    "--name",
                    f"tests-{role}",
                    "--db",
                    self.db,
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            self._tokens[role] = str(json.loads(made.stdout)["token"])
        return self._tokens[role]


def runbook_stack(runbook: str, section: str, env: dict[str, str]) -> str:
    """A stack file naming ``runbook`` whose one check fails at once (a closed port) and opens an
    incident pointing at ``section``; ``env`` is its ``env:``."""
    check = {"tcp": "127.0.0.1:9", "every": "1s", "alert": {"after": 1, "severity": "P2"}, "runbook": section}
    stack = {"runbooks": [runbook], "env": env, "services": {"api": {"checks": {"health": check}}}}
    return yaml.safe_dump(stack)


def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def vigil_up(tmp_path: Path) -> Iterator[Any]:
    started: list[VigilProcess] = []

    def make(stack_text: str) -> VigilProcess:
        stack = tmp_path / "vigil.yaml"
        stack.write_text(stack_text)
        process = VigilProcess(stack, f"sqlite:///{tmp_path}/vigil.db")
        started.append(process)
        return process

    yield make
    for process in started:
        if process.proc and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@asynccontextmanager
async def served(
    tmp_path: Path,
    stack_text: str,
    environ: dict[str, str] | None = None,
    *,
    start: bool = False,
    series_path: Path | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime, FakeClock]]:
    """The app over a Runtime on a fake clock and a fresh SQLite store (``vigil.db`` in
    ``tmp_path``), talked to in process. Not started: the test feeds results itself; with
    ``start``, every background task runs and time moves by hand. ``series_path``: the series
    log's folder (none by default: the series live in memory)."""
    clock = FakeClock()
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    stack = parse_stack("vigil.yaml", stack_text, environ or {})
    runtime = Runtime(stack, engine, clock=clock, series_path=series_path)
    await (runtime.start() if start else runtime.failures.load())
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as client:
            yield client, runtime, clock
    finally:
        if start:
            await runtime.stop()
        await engine.dispose()


@asynccontextmanager
async def uvicorn_served(
    tmp_path: Path,
    stack_text: str,
    environ: dict[str, str] | None = None,
    *,
    wire: bool = True,
    keep_alive: int = 5,
) -> AsyncIterator[tuple[str, Runtime, uvicorn.Server]]:
    """The app over a started Runtime, served by real uvicorn on a free port: as ``vigil up``
    serves it (``server_config``), or with uvicorn's own HTTP protocol (``wire=False``) so that
    requests reach the ASGI layers; ``keep_alive``: seconds an idle connection is kept. Yields
    the base URL, the runtime and the server."""
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    runtime = Runtime(parse_stack("vigil.yaml", stack_text, environ or {}), engine)
    port = free_port()
    config = server_config(runtime, create_app(runtime), "127.0.0.1", port)
    config.timeout_keep_alive = keep_alive
    config.timeout_graceful_shutdown = 10  # a test that failed may leave a client not reading
    if not wire:
        config.http = "auto"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start listening")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", runtime, server
    finally:
        server.should_exit = True
        await task
        await engine.dispose()
