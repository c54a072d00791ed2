"""The detection benchmark's fixture: a breakable ``/health`` target and a webhook receiver in one process.

Run standalone: ``python bench/receiver.py --port P`` (``--port 0`` picks a free
port). The first stdout line is the bound port, so a parent can read it. It
binds 127.0.0.1 only and serves, on that one port:

* ``GET /health``: ``200`` while healthy, ``500`` while broken. The time of every
  failing answer served since the last break is recorded, so the harness knows
  when the monitor under test first *saw* the failure.
* ``POST /hook/<stack>``: a webhook receiver. Each delivery is recorded with its
  arrival time, a sequence number and its body (JSON when it parses).
* ``POST /control/break`` and ``POST /control/heal``: flip the switch; the answer
  holds the flip time and the last hook sequence number at that moment.
* ``GET /control/hooks?after=SEQ&wait=S``: deliveries with seq > SEQ, waiting up
  to S seconds for the first one (long poll, so the harness need not spin).
* ``GET /control/trial``: break/heal times, failing-answer times, probe count.

Every timestamp is ``time.monotonic()`` taken *in this process*, so a latency is
one clock minus itself: no cross-process clock error, and the harness' own
scheduling (how fast it notices a delivery) never enters the figure. Wall-clock
time is recorded beside it for deliveries only, to compare with timestamps in
webhook bodies.

``start_receiver()`` launches it as a separate process with this interpreter:
the monitors under test probe and page it while the harness only watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

if __package__ in (None, ""):
    # Run as a script (python bench/receiver.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.target import fixture_main, start_fixture

HOST = "127.0.0.1"
# Failing answers kept per trial: a monitor pages after a handful; the rest is noise.
MAX_FAILS = 64
# Longest long-poll a client may ask for, so a lost harness cannot pin a handler forever.
MAX_WAIT_S = 60.0


@dataclass
class Fixture:
    broken: bool = False
    break_t: float | None = None
    heal_t: float | None = None
    fails: list[float] = field(default_factory=list)  # when failing answers were served since break_t
    first_ok_after_heal: float | None = None
    probes: int = 0  # /health requests answered, any status, since start
    hooks: list[dict[str, Any]] = field(default_factory=list)
    # Set (and replaced) on every delivery: long polls wait on the current one.
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def seq(self) -> int:
        return len(self.hooks)


FIXTURE = web.AppKey("fixture", Fixture)


async def health(request: web.Request) -> web.Response:
    fx = request.app[FIXTURE]
    now = time.monotonic()
    fx.probes += 1
    if fx.broken:
        if len(fx.fails) < MAX_FAILS:
            fx.fails.append(now)
        return web.json_response({"status": "broken"}, status=500)
    if fx.heal_t is not None and fx.first_ok_after_heal is None:
        fx.first_ok_after_heal = now
    return web.json_response({"status": "healthy"})


async def hook(request: web.Request) -> web.Response:
    # Stamp on entry: the page has arrived once its request head has; reading a
    # body of a few hundred bytes adds nothing worth counting against the sender.
    now, wall = time.monotonic(), time.time()
    raw = await request.read()
    body: Any
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw.decode(errors="replace")
    fx = request.app[FIXTURE]
    fx.hooks.append(
        {"seq": fx.seq + 1, "t": now, "wall": wall, "stack": request.match_info["stack"], "body": body}
    )
    fx.arrived.set()
    fx.arrived = asyncio.Event()
    return web.json_response({"ok": True})


async def flip(request: web.Request) -> web.Response:
    fx = request.app[FIXTURE]
    now = time.monotonic()
    if request.match_info["action"] == "break":
        fx.broken, fx.break_t, fx.heal_t, fx.fails = True, now, None, []
        fx.first_ok_after_heal = None
    else:
        fx.broken, fx.heal_t, fx.first_ok_after_heal = False, now, None
    return web.json_response({"t": now, "seq": fx.seq})


async def hooks(request: web.Request) -> web.Response:
    fx = request.app[FIXTURE]
    after = int(request.query.get("after", "0"))
    wait = min(float(request.query.get("wait", "0")), MAX_WAIT_S)
    if fx.seq <= after and wait > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fx.arrived.wait(), wait)
    return web.json_response({"hooks": fx.hooks[after:], "seq": fx.seq})


async def trial(request: web.Request) -> web.Response:
    fx = request.app[FIXTURE]
    return web.json_response(
        {
            "broken": fx.broken,
            "break_t": fx.break_t,
            "heal_t": fx.heal_t,
            "fails": fx.fails,
            "first_ok_after_heal": fx.first_ok_after_heal,
            "probes": fx.probes,
            "now": time.monotonic(),
        }
    )


def make_app() -> web.Application:
    app = web.Application()
    app[FIXTURE] = Fixture()
    app.router.add_get("/health", health)
    app.router.add_post("/hook/{stack}", hook)
    app.router.add_post("/control/{action:break|heal}", flip)
    app.router.add_get("/control/hooks", hooks)
    app.router.add_get("/control/trial", trial)
    return app


def _watch_parent(loop: asyncio.AbstractEventLoop, parent_pid: int, stop: asyncio.Event) -> None:
    # Re-parented once the launcher dies, even by SIGKILL: then stop too.
    if os.getppid() != parent_pid:
        stop.set()
    else:
        loop.call_later(0.5, _watch_parent, loop, parent_pid, stop)


async def serve(port: int, parent_pid: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or parent_pid is gone); print the bound port first on stdout."""
    # Bind the socket ourselves: that is the public way to learn the port picked for 0.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(sock.getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if parent_pid:
        _watch_parent(loop, parent_pid, stop)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def start_receiver(port: int = 0, timeout_s: float = 10.0) -> tuple[subprocess.Popen[bytes], int]:
    """Launch the fixture in its own process; return it and its port once it accepts."""
    return start_fixture(Path(__file__).resolve(), port, timeout_s)


def main(argv: list[str] | None = None) -> None:
    fixture_main(serve, __doc__ or "", argv)


if __name__ == "__main__":
    main()
