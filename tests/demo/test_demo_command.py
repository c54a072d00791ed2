"""``vigil demo`` as a newcomer starts it, a real process: its first line is Vigil's, a taken port
is found before anything is printed, and its processes end with their parent whatever ends it.

The demo runs this checkout's code (its ``src`` first on PYTHONPATH), under ``sh -c`` where the
test needs a parent to kill, as ``make`` is under ``timeout``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

import vigil

VIGIL = str(Path(sys.executable).parent / "vigil")
SRC = str(Path(vigil.__file__).resolve().parents[1])
DEFAULT_PORT = 8484
START_SECONDS = 40.0  # two interpreters start on a machine shared with other test runs
END_SECONDS = 8.0
DASHBOARD = re.compile(r"dashboard +http://127\.0\.0\.1:(\d+)/")

pytestmark = pytest.mark.slow


@dataclass
class Demo:
    """A started ``vigil demo`` (or the ``sh`` above it), its merged output and, once up, its
    dashboard port and the demo and target processes."""

    proc: subprocess.Popen[bytes]
    output: Path
    port: int = 0
    processes: list[psutil.Process] = field(default_factory=list)

    def lines(self) -> list[str]:
        return self.output.read_text().splitlines()

    def demo_process(self) -> psutil.Process:
        return self.processes[0]


StartDemo = Callable[..., Demo]


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[StartDemo]:
    started: list[Demo] = []

    def start(*args: str, under_shell: bool = False) -> Demo:
        output = tmp_path / f"demo-{len(started)}.out"
        command = [VIGIL, "demo", "--dir", str(tmp_path / "demo"), *args]
        if under_shell:
            # `; echo` keeps sh as the demo's parent (a lone command would be exec'd in its place)
            # and reports the demo's exit status.
            command = ["sh", "-c", " ".join(command) + '; echo "demo exited with $?"']
        env = {**os.environ, "PYTHONPATH": SRC, "PYTHONUNBUFFERED": "1"}
        with output.open("wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        demo = Demo(proc, output)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.kill()
        for process in demo.processes:
            _kill_quietly(process)
        demo.proc.wait(10)


def _kill_quietly(process: psutil.Process) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.kill()


def wait_until_serving(demo: Demo, *, under_shell: bool = False) -> None:
    """Wait for the dashboard to answer; then note the demo process and its target child."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if demo.proc.poll() is not None:
            raise AssertionError(f"vigil demo exited with {demo.proc.returncode}:\n{demo.output.read_text()}")
        found = DASHBOARD.search(demo.output.read_text())
        if found and _answers(int(found.group(1))):
            demo.port = int(found.group(1))
            top = psutil.Process(demo.proc.pid)
            main = top.children()[0] if under_shell else top
            demo.processes = [main, *_targets(main)]
            return
        time.sleep(0.1)
    raise AssertionError(f"vigil demo did not serve within {START_SECONDS}s:\n{demo.output.read_text()}")


def _targets(demo: psutil.Process) -> list[psutil.Process]:
    # By name: the demo's imports may run short-lived helper processes of their own.
    found = []
    for child in demo.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "vigil.demo.target" in child.cmdline():
                found.append(child)
    return found


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not ended (a zombie waiting for its parent to reap it has ended)."""
    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_for_end(processes: list[psutil.Process], seconds: float = END_SECONDS) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while still_running(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return still_running(processes)


@pytest.fixture
def default_port_taken() -> Iterator[None]:
    """Port 8484 listened on by a socket of this test, unless another program already has it."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", DEFAULT_PORT))
        sock.listen()
    except OSError as err:
        assert err.errno == errno.EADDRINUSE
    try:
        yield
    finally:
        sock.close()


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_with_8484_taken_the_demo_moves_to_a_free_port_and_its_first_line_says_so(
    start_demo: StartDemo, default_port_taken: None
) -> None:
    demo = start_demo()
    wait_until_serving(demo)

    lines = demo.lines()
    assert demo.port != DEFAULT_PORT
    assert lines[0] == f"Port {DEFAULT_PORT} is taken; the demo's dashboard uses port {demo.port} instead."
    # No library's log line anywhere, before the banner or after it (httpx logged each request).
    assert not [
        line for line in lines if re.search(r"\b(INFO|DEBUG)\b (httpx|httpcore|uvicorn|apprise)", line)
    ]
    assert "Vigil demo" in lines


def test_a_taken_explicit_port_stops_the_demo_with_one_line_and_exit_2(
    start_demo: StartDemo, held_port: int
) -> None:
    demo = start_demo("--port", str(held_port))
    code = demo.proc.wait(START_SECONDS)

    lines = [line for line in demo.lines() if line.strip()]
    assert code == 2
    assert lines == [
        f"the demo's dashboard cannot listen on 127.0.0.1:{held_port}: another program is using that port"
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_ends_the_demo_cleanly_and_its_target_with_it(
    start_demo: StartDemo, sig: signal.Signals
) -> None:
    demo = start_demo(under_shell=True)
    wait_until_serving(demo, under_shell=True)
    assert len(demo.processes) == 2, "the demo and its target"

    demo.demo_process().send_signal(sig)

    assert wait_for_end(demo.processes) == []
    demo.proc.wait(END_SECONDS)
    assert demo.lines()[-1] == "demo exited with 0"
    assert "Traceback" not in demo.output.read_text()


def test_killing_the_demos_parent_ends_the_demo_and_its_target(start_demo: StartDemo) -> None:
    """``timeout make demo``: make gets SIGTERM and dies without passing it on; SIGKILL here, so
    that the parent cannot pass anything on either."""
    demo = start_demo(under_shell=True)
    wait_until_serving(demo, under_shell=True)

    demo.proc.kill()
    demo.proc.wait(END_SECONDS)

    assert wait_for_end(demo.processes) == []


def test_killing_the_demo_outright_ends_its_target(start_demo: StartDemo) -> None:
    demo = start_demo()
    wait_until_serving(demo)

    demo.demo_process().kill()
    demo.proc.wait(END_SECONDS)

    assert wait_for_end(demo.processes[1:]) == []


def test_a_stop_while_the_demo_is_starting_ends_it_and_the_target_it_started(start_demo: StartDemo) -> None:
    demo = start_demo()
    main = psutil.Process(demo.proc.pid)
    deadline = time.monotonic() + START_SECONDS
    while not (targets := _targets(main)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert targets, f"the target never started:\n{demo.output.read_text()}"
    demo.processes = [main, *targets]

    demo.proc.send_signal(signal.SIGTERM)

    assert demo.proc.wait(END_SECONDS) == 0
    assert wait_for_end(demo.processes[1:]) == []


def test_the_demo_ships_its_runbook_backs_up_its_store_and_suggests_the_runbook_on_an_incident(
    start_demo: StartDemo, tmp_path: Path
) -> None:
    demo = start_demo()
    wait_until_serving(demo)
    assert (tmp_path / "demo" / "demo-runbook.md").is_file()
    text = demo.output.read_text()
    token = re.search(r"API token +(\S+)", text)
    target = re.search(r"target app +(http://\S+)", text)
    assert token and target
    api = f"http://127.0.0.1:{demo.port}/api/v1"
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert httpx.get(f"{api}/runbooks/review", headers=headers, timeout=5).json()["runbooks"] == 1
    # Its own store was backed up and verified as it started: the backup check passes from the start.
    [backup] = httpx.get(f"{api}/backups/vigil-db", headers=headers, timeout=5).json()["backups"]
    assert backup["verified_how"] == "restore" and backup["verified"] is True
    assert httpx.get(f"{api}/checks/backups.vigil-db", headers=headers, timeout=5).json()["status"] == "ok"

    httpx.post(f"{target.group(1)}/chaos", json={"mode": "db_down"}, timeout=5).raise_for_status()
    deadline = time.monotonic() + 30
    incidents: list[dict[str, object]] = []
    while not incidents and time.monotonic() < deadline:
        time.sleep(0.5)
        incidents = httpx.get(f"{api}/incidents", headers=headers, timeout=5).json()
    assert incidents, f"no incident within 30 s:\n{demo.output.read_text()}"
    detail = httpx.get(f"{api}/incidents/{incidents[0]['id']}", headers=headers, timeout=5).json()
    assert detail["runbooks"][0]["id"] == "demo-runbook.md#issue-database-connection-errors"
    assert all(r["steps"] for r in detail["runbooks"])
