"""The demo target in a process of its own, so that breaking it (or it breaking) never stalls
the event loop of the Vigil that watches it."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

import httpx

from vigil.errors import VigilError

READY_PREFIX = "listening on "
START_TIMEOUT = 20.0


def start_target_process(
    port: int = 0,
    *,
    timeout: float = START_TIMEOUT,
    interrupt: Callable[[], None] = lambda: None,
    vigil_url: str | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m vigil.demo.target`` on 127.0.0.1 (port 0: a free one) and return the
    process and its base URL once ``/health`` answers. Stop it with ``stop_target_process``.
    ``interrupt`` is called while waiting; what it raises stops the target and propagates.
    With ``vigil_url`` the target's worker pings that Vigil's heartbeat URL."""
    command = [sys.executable, "-m", "vigil.demo.target", "--host", "127.0.0.1", "--port", str(port)]
    if vigil_url is not None:
        command += ["--vigil-url", vigil_url]
    # The target ends with this process, however this process ends (see vigil.demo.lifeline).
    command += ["--parent-pid", str(os.getpid())]
    # stderr is inherited: the target's warnings and tracebacks belong on the demo's console.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        url = _wait_for_url(process, timeout, interrupt)
        _wait_for_health(process, url, timeout, interrupt)
    except BaseException:
        stop_target_process(process)
        raise
    return process, url


def stop_target_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM (uvicorn closes connections and exits), then SIGKILL after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[bytes], timeout: float, interrupt: Callable[[], None]) -> str:
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread rather than a non-blocking read: it works the same on every platform, and by
    # draining stdout until the process ends it keeps a chatty target from filling the pipe.
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        interrupt()
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                raise VigilError(
                    f"the demo target exited with code {process.returncode} before listening"
                ) from None
            continue
        if line.startswith(READY_PREFIX):
            return line.removeprefix(READY_PREFIX).strip()
    raise VigilError(f"the demo target did not start listening within {timeout:g}s")


def _drain(stream: IO[bytes], lines: queue.Queue[str]) -> None:
    # The thread owns the pipe and closes it at end of file: closing it from another thread
    # while this one reads would block on the reader's lock.
    with stream:
        for raw in stream:
            lines.put(raw.decode("utf-8", errors="replace"))


def _wait_for_health(
    process: subprocess.Popen[bytes], url: str, timeout: float, interrupt: Callable[[], None]
) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            interrupt()
            if process.poll() is not None:
                raise VigilError(f"the demo target exited with code {process.returncode} while starting")
            try:
                client.get(f"{url}/health")
                return  # any answer will do: the target is up, whatever chaos says
            except httpx.TransportError:
                time.sleep(0.05)
    raise VigilError(f"the demo target at {url} did not answer /health within {timeout:g}s")
