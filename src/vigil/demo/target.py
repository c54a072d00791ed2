"""The demo's target: a small AI backend with the endpoints a runbook watches, and a switch to break it.

``GET /health``, ``GET /health/ready``, ``GET /metrics`` and ``GET /api/answer`` behave like a
FastAPI service with a database and a cache behind it; ``POST /chaos`` makes them fail, slow down
or lose a dependency (see ``vigil.demo.chaos``), so that a newcomer can watch Vigil notice.
``/inbox`` is the demo's pager: the demo's people are paged there (see ``vigil.demo.inbox``);
``/vendor`` is a vendor's status page (``vigil.demo.vendor``). Given Vigil's URL, the target also
runs a worker that pings Vigil's heartbeat URL (``vigil.demo.worker``).

Run on its own with ``python -m vigil.demo.target --port 8080``; it prints
``listening on http://127.0.0.1:8080`` once it answers; ``--vigil-url`` starts the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from vigil import __version__
from vigil.demo.chaos import Chaos, ChaosRequest
from vigil.demo.inbox import Inbox, inbox_router
from vigil.demo.lifeline import die_with_parent
from vigil.demo.metrics import MetricsMiddleware, TargetMetrics
from vigil.demo.vendor import vendor_router
from vigil.demo.worker import Worker, ping_url
from vigil.errors import VigilError
from vigil.server.listen import bind

TARGET_VERSION = f"{__version__}-demo"
# What a healthy answer costs: enough spread that the latency histogram has a shape.
ANSWER_MS = (20.0, 80.0)
ANSWERS = (
    "Check the runbook before you restart anything.",
    "The database is the usual suspect.",
    "Roll back first, investigate second.",
    "It is always DNS.",
)


def create_target_app(*, rng: random.Random | None = None) -> FastAPI:
    """A fresh target with its own chaos state and metrics; ``rng`` makes answers and partial
    failure rates repeatable in tests."""
    rng = rng or random.Random()
    chaos = Chaos()
    metrics = TargetMetrics()
    app = FastAPI(title="Vigil demo target", version=TARGET_VERSION)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.chaos = chaos
    app.state.inbox = inbox = Inbox()
    app.include_router(inbox_router(inbox))
    app.include_router(vendor_router(chaos))

    def dependencies() -> dict[str, dict[str, str]]:
        return {
            "db": {"status": "down" if chaos.db_down else "healthy"},
            "cache": {"status": "down" if chaos.cache_down else "healthy"},
        }

    @app.get("/health", summary="Liveness: 200 healthy, 503 degraded, 500 unhealthy")
    async def health() -> JSONResponse:
        await chaos.delay()
        if chaos.error_rate > 0:
            status, code = "unhealthy", 500
        elif chaos.db_down or chaos.cache_down:
            status, code = "degraded", 503
        else:
            status, code = "healthy", 200
        return JSONResponse({"status": status, "version": TARGET_VERSION}, status_code=code)

    @app.get("/health/ready", summary="Readiness, with the state of each dependency")
    async def ready() -> JSONResponse:
        checks = dependencies()
        ok = all(check["status"] == "healthy" for check in checks.values())
        body = {"status": "ready" if ok else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", summary="Prometheus text format")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/answer", summary="A fake model call: latency, tokens and, under chaos, errors")
    async def answer(q: str = "What should I check first?") -> JSONResponse:
        with metrics.queue_depth.track_inprogress():
            await asyncio.sleep(rng.uniform(*ANSWER_MS) / 1000.0)
            await chaos.delay()
            if chaos.error_rate > 0 and rng.random() < chaos.error_rate:
                return JSONResponse({"error": "model backend unavailable"}, status_code=500)
            text = rng.choice(ANSWERS)
            return JSONResponse(
                {"question": q, "answer": text, "model": "demo-small", "tokens": len(text.split())}
            )

    @app.get("/chaos", summary="The faults in force")
    async def chaos_state() -> dict[str, Any]:
        return chaos.as_dict()

    @app.post(
        "/chaos",
        summary="Break the target (fail, slow, db_down, cache_down, worker_down, vendor_outage) "
        "or mend it (recover)",
    )
    async def chaos_change(request: ChaosRequest) -> dict[str, Any]:
        chaos.apply(request)
        return chaos.as_dict()

    return app


async def serve_target(
    host: str, port: int, *, on_ready: Callable[[str], None] | None = None, vigil_url: str | None = None
) -> None:
    """Serve a target until cancelled or signalled; ``on_ready`` gets the base URL once it answers.
    With ``vigil_url`` its worker pings that Vigil's heartbeat URL meanwhile.

    The socket is bound here, not by uvicorn, so that port 0 yields a real port to announce and a
    port in use is a ``VigilError`` rather than uvicorn's ``sys.exit``.
    """
    sock = bind(host, port, what="the demo target")
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    app = create_target_app()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _AnnouncingServer(config, lambda: on_ready(url) if on_ready is not None else None)
    worker = None
    if vigil_url is not None:
        worker = asyncio.create_task(Worker(ping_url(vigil_url), app.state.chaos).run())
    try:
        await server.serve(sockets=[sock])
    finally:
        if worker is not None:
            worker.cancel()
        sock.close()


class _AnnouncingServer(uvicorn.Server):
    """Calls back once the server accepts connections, when uvicorn marks itself started."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vigil.demo.target", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process (vigil demo) ends")
    parser.add_argument("--vigil-url", help="the Vigil whose heartbeat URL the worker pings")
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    try:
        asyncio.run(
            serve_target(
                args.host,
                args.port,
                on_ready=lambda url: print(f"listening on {url}", flush=True),
                vigil_url=args.vigil_url,
            )
        )
    except VigilError as err:
        print(err, file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
