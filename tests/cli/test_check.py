"""``vigil check`` and ``vigil validate`` as a user runs them: real processes, real servers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.engine.test_once import pinged
from vigil.engine.clock import FakeClock
from vigil.probes.heartbeat import Signal

VIGIL = [sys.executable, "-m", "vigil.cli"]
HEALTH_SERVER = textwrap.dedent(
    """
    import http.server, json, sys

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "healthy", "checks": {"database": {"status": "healthy"}}}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
    """
)


def vigil(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def health_server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", HEALTH_SERVER, str(port)])
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield server, port
    server.kill()
    server.wait()


def write_stack(tmp_path: Path, port: int) -> Path:
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        textwrap.dedent(
            f"""
            services:
              api:
                depends_on: [postgres, cache]
                checks:
                  health:
                    http: http://127.0.0.1:{port}/health
                    expect: {{status: 200, json: {{status: healthy}}, max_ms: 2000}}
                    timeout: 2s
              postgres:
                checks:
                  ping:
                    postgres: ${{DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}}
              cache:
                checks:
                  ping:
                    redis: redis://127.0.0.1:6379/0
            """
        )
    )
    return stack


def test_check_reports_every_check_ok_then_the_stopped_server_as_failed(
    tmp_path: Path, health_server: tuple[subprocess.Popen[bytes], int]
) -> None:
    server, port = health_server
    stack = write_stack(tmp_path, port)

    healthy = vigil("check", "-c", str(stack), "--json")
    assert healthy.returncode == 0, healthy.stderr
    rows = {f"{r['service']}.{r['check']}": r for r in json.loads(healthy.stdout)}
    assert set(rows) == {"api.health", "postgres.ping", "cache.ping"}
    assert all(r["ok"] and r["reason"] is None and r["duration_ms"] >= 0 for r in rows.values())

    server.kill()
    server.wait()
    broken = vigil("check", "-c", str(stack))
    assert broken.returncode == 1
    line = next(line for line in broken.stdout.splitlines() if line.startswith("api"))
    assert "FAIL" in line
    assert "connection refused" in line
    assert "Traceback" not in broken.stdout + broken.stderr


def test_check_can_run_one_service_only(
    tmp_path: Path, health_server: tuple[subprocess.Popen[bytes], int]
) -> None:
    stack = write_stack(tmp_path, health_server[1])
    out = vigil("check", "-c", str(stack), "--json", "cache")
    assert out.returncode == 0, out.stderr
    assert [r["check"] for r in json.loads(out.stdout)] == ["ping"]


def test_a_wrong_password_from_the_environment_fails_without_showing_it(tmp_path: Path) -> None:
    stack = tmp_path / "vigil.yaml"
    stack.write_text("services:\n  cache:\n    checks:\n      ping: {redis: '${REDIS_URL}', timeout: 3s}\n")
    out = vigil("check", "-c", str(stack), env={"REDIS_URL": "redis://:wr0ngpassw0rd@127.0.0.1:6379/0"})
    assert out.returncode == 1
    assert "wr0ngpassw0rd" not in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_validate_names_every_fault_by_line_and_exits_2(tmp_path: Path) -> None:
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        "services:\n  api:\n    depends_on: [db]\n    checks:\n      health:\n        htp: http://x\n"
        "  cache:\n    checks:\n      ping: {redis: 'redis://x', every: often}\n"
    )
    out = vigil("validate", "-c", str(stack))
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert (
        f"{stack}:3:18: services.api.depends_on[0]: unknown service 'db'; services are: api, cache" in lines
    )
    assert any(
        line.startswith(f"{stack}:6:9: services.api.checks.health.htp: unknown probe kind 'htp'; known: ")
        and line.endswith("(did you mean 'http'?)")
        for line in lines
    )
    assert any(
        line.startswith(f"{stack}:9:41: services.cache.checks.ping.every: 'often' is not a duration")
        for line in lines
    )
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the stack file"),
        ("services: [\n", "invalid YAML"),
        (
            "services:\n  db:\n    checks:\n      ping: {postgres: '${NO_SUCH_VAR}'}\n",
            "NO_SUCH_VAR is not set",
        ),
    ],
)
def test_check_on_a_bad_stack_file_prints_one_clear_line_and_exits_2(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    stack = tmp_path / "vigil.yaml"
    if content is not None:
        stack.write_text(content)
    out = vigil("check", "-c", str(stack))
    assert out.returncode == 2
    assert expected in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_schema_is_json_schema_naming_every_probe_kind() -> None:
    out = vigil("schema")
    assert out.returncode == 0
    document = json.loads(out.stdout)
    assert document["title"] == "Vigil stack file"
    for kind in (
        "HttpCheck",
        "TcpCheck",
        "PostgresCheck",
        "RedisCheck",
        "MysqlCheck",
        "SystemCheck",
        "CommandCheck",
    ):
        assert kind in document["$defs"]


def test_validate_names_a_second_heartbeat_with_the_first_ones_ping_key(tmp_path: Path) -> None:
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        "services:\n  worker:\n    checks:\n      beat: {heartbeat: {every: 1m, key: '${KEY}'}}\n"
        "      again: {heartbeat: {every: 5m, key: '${KEY}'}}\n"
    )
    out = vigil("validate", "-c", str(stack), env={"KEY": "s3cr3t-ping-key-123456"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[0] == (
        f"{stack}:5:43: services.worker.checks.again.heartbeat.key: has the same ping key as worker.beat "
        "(line 4); give each its own key"
    )
    assert "s3cr3t-ping-key-123456" not in out.stdout + out.stderr


def test_a_heartbeat_is_not_judged_without_pings_and_judged_from_the_stores_pings(tmp_path: Path) -> None:
    text = "services:\n  worker:\n    checks:\n      beat: {heartbeat: {every: 1h}}\n"
    stack = tmp_path / "vigil.yaml"
    stack.write_text(text + "      cache: {redis: 'redis://127.0.0.1:6379/0'}\n")
    table = vigil("check", "-c", str(stack))
    assert table.returncode == 0, table.stderr
    beat_line = next(line for line in table.stdout.splitlines() if "beat" in line)
    assert "not judged" in beat_line and "pings reach `vigil up`" in beat_line
    rows = {r["id"]: r for r in json.loads(vigil("check", "-c", str(stack), "--json").stdout)}
    assert (rows["worker.beat"]["status"], rows["worker.beat"]["ok"]) == ("not_judged", None)
    assert rows["worker.beat"]["reason"] == "pings reach `vigil up`"
    assert rows["worker.cache"]["status"] == "ok"

    # What `vigil up` keeps in the stack file's store when the job pings /fail.
    failing = (Signal.FAIL, 1, b"backup failed\n")
    asyncio.run(pinged(f"sqlite:///{tmp_path}/.vigil/vigil.db", FakeClock(), failing, text=text))
    failed = vigil("check", "-c", str(stack), "--json")
    assert failed.returncode == 1
    beat = next(r for r in json.loads(failed.stdout) if r["id"] == "worker.beat")
    assert beat["status"] == "failed" and beat["reason"].endswith(": backup failed")
