"""A fast local HTTP target for the probe benchmarks.

Run standalone: ``python bench/target.py --port P`` (``--port 0`` picks a free
port). The first stdout line is the bound port, so a parent can read it.
Every ``GET /t/<i>`` (any ``i``) gets ``200`` with ``{"status":"healthy"}``;
anything else gets ``404``. It binds 127.0.0.1 only.

The target's cost must stay far below what is measured (the prober's), so it
is a raw ``asyncio.Protocol`` HTTP/1.1 keep-alive responder with pre-built
responses rather than aiohttp.web. Measured with wrk 4.1 (``wrk -t1 -c50
-d5s``, server pinned to one core, wrk to the other) on the 2-core benchmark
machine, Python 3.11, stdlib event loop:

* this responder:              ~138,000 req/s keep-alive, ~21,700 req/s with ``Connection: close``
* aiohttp.web, access_log off:  ~40,800 req/s keep-alive, ~12,900 req/s with ``Connection: close``

Probers typically open a new connection per probe (the blackbox exporter
does), so the ``Connection: close`` figure is the one that bounds a run.

``start_target()`` launches it as a separate process with this interpreter so
its CPU time never mixes with the process being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BODY = b'{"status":"healthy"}'
# Largest request head we accept; probes send a few hundred bytes.
MAX_HEAD = 64 * 1024


def _response(status: str, body: bytes, *, keep_alive: bool) -> bytes:
    conn = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: " + conn + b"\r\n"
        b"\r\n" + body
    )


# Built once: the hot path only picks one of these and writes it.
OK_KEEP = _response("200 OK", BODY, keep_alive=True)
OK_CLOSE = _response("200 OK", BODY, keep_alive=False)
NOT_FOUND_KEEP = _response("404 Not Found", b'{"error":"not found"}', keep_alive=True)
NOT_FOUND_CLOSE = _response("404 Not Found", b'{"error":"not found"}', keep_alive=False)
BAD_REQUEST = _response("400 Bad Request", b'{"error":"bad request"}', keep_alive=False)


class TargetProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 server connection: pipelining-safe, keep-alive aware."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        # Bytes of a request body still to be skipped (GET normally has none).
        self._skip = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        buf = self._buf
        buf += data
        out: list[bytes] = []
        close = False
        while True:
            if self._skip:
                n = min(self._skip, len(buf))
                del buf[:n]
                self._skip -= n
                if self._skip:
                    break
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    out.append(BAD_REQUEST)
                    close = True
                break
            head = bytes(buf[:end])
            del buf[: end + 4]
            reply, close, self._skip = _handle(head)
            out.append(reply)
            if close:
                break
        if out:
            # One write per read keeps syscalls down when requests are pipelined.
            transport.write(b"".join(out))
        if close:
            buf.clear()
            transport.close()


def _handle(head: bytes) -> tuple[bytes, bool, int]:
    """Return (response, close_after, body_bytes_to_skip) for one request head."""
    line_end = head.find(b"\r\n")
    request_line = head if line_end < 0 else head[:line_end]
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return BAD_REQUEST, True, 0
    method, target, version = parts
    # HTTP/1.1 keeps the connection open unless told otherwise; 1.0 the reverse.
    keep_alive = version == b"HTTP/1.1"
    body_len = 0
    if line_end >= 0:
        for raw in head[line_end + 2 :].split(b"\r\n"):
            name, _, value = raw.partition(b":")
            lname = name.strip().lower()
            if lname == b"connection":
                tokens = value.strip().lower()
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
            elif lname == b"content-length":
                try:
                    body_len = int(value.strip())
                except ValueError:
                    return BAD_REQUEST, True, 0
            elif lname == b"transfer-encoding":
                # Chunked request bodies are never sent by probes; refuse rather than mis-frame.
                return BAD_REQUEST, True, 0
    if method in (b"GET", b"HEAD") and target.startswith(b"/t/"):
        reply = OK_KEEP if keep_alive else OK_CLOSE
        if method == b"HEAD":
            reply = reply[: reply.index(b"\r\n\r\n") + 4]
    else:
        reply = NOT_FOUND_KEEP if keep_alive else NOT_FOUND_CLOSE
    return reply, not keep_alive, max(body_len, 0)


def _watch_parent(loop: asyncio.AbstractEventLoop, parent_pid: int, stop: asyncio.Event) -> None:
    # Once the launcher dies we are re-parented; polling getppid() is
    # thread-agnostic, unlike PR_SET_PDEATHSIG, which fires when the launching
    # *thread* exits and so would kill a target started from a worker thread.
    if os.getppid() != parent_pid:
        stop.set()
    else:
        loop.call_later(0.5, _watch_parent, loop, parent_pid, stop)


async def serve(port: int, parent_pid: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or parent_pid is gone); print the bound port first on stdout."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        TargetProtocol,
        HOST,
        port,
        # A probe round opens thousands of connections at once; the default
        # backlog (100) would make some of them wait for SYN retries.
        backlog=4096,
        reuse_address=True,
    )
    bound = server.sockets[0].getsockname()[1]
    print(bound, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if parent_pid:
        _watch_parent(loop, parent_pid, stop)
    async with server:
        await stop.wait()


def _wait_for_port_line(proc: subprocess.Popen[bytes], deadline: float) -> int:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("bench target did not report its port in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        # Unbuffered read of what is there: readline() could block past the deadline,
        # and a buffered read could hide data from select().
        chunk = os.read(fd, 64)
        if not chunk:
            raise RuntimeError(f"bench target exited early (rc={proc.poll()})")
        line += chunk
    return int(line.split(b"\n", 1)[0])


def _wait_accepting(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_fixture(
    script: Path, port: int = 0, timeout_s: float = 10.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Launch a benchmark fixture script (it prints its port first, then serves) in its own
    process; return it and its port once it accepts. The caller terminate()s and wait()s it."""
    proc = subprocess.Popen(
        # --parent-pid: a benchmark killed hard (SIGKILL) must not leave the fixture behind.
        [sys.executable, str(script), "--port", str(port), "--parent-pid", str(os.getpid())],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout_s
        bound = _wait_for_port_line(proc, deadline)
        _wait_accepting(bound, deadline)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        # Nothing else is printed after the port; closing avoids leaking the fd.
        assert proc.stdout is not None
        proc.stdout.close()
    return proc, bound


def start_target(port: int = 0, timeout_s: float = 10.0) -> tuple[subprocess.Popen[bytes], int]:
    """Launch the target in its own process; return it and its port once it accepts."""
    return start_fixture(Path(__file__).resolve(), port, timeout_s)


def fixture_main(
    serve_fixture: Callable[[int, int | None], Coroutine[Any, Any, None]], doc: str, argv: list[str] | None
) -> None:
    """The command line every benchmark fixture shares: ``--port`` and ``--parent-pid``."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_fixture(args.port, args.parent_pid))


def main(argv: list[str] | None = None) -> None:
    fixture_main(serve, __doc__ or "", argv)


if __name__ == "__main__":
    main()
