"""``vigil up``: the store, the runtime and the web server in one event loop."""

from __future__ import annotations

import gc
import logging
import signal
import socket

import uvicorn
from starlette.types import ASGIApp

from vigil.config.load import Stack
from vigil.server.app import create_app
from vigil.server.ping_routes import Pings
from vigil.server.ping_wire import wire_for
from vigil.server.runtime import Runtime
from vigil.store.database import open_database, stack_store_url

log = logging.getLogger("vigil")


def server_config(runtime: Runtime, app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """uvicorn as ``vigil up`` runs it: pings answered in its parser (``server.ping_wire``),
    no access log (a line per ping would cost more than the ping)."""
    pings = Pings(runtime.heartbeats, runtime.stack.model.server.max_body)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=wire_for(pings),
    )


async def serve(
    stack: Stack,
    *,
    db: str | None,
    host: str,
    port: int,
    announce: bool = True,
    sock: socket.socket | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; uvicorn's graceful shutdown stops the runtime, which commits
    in-flight results and transitions before the process exits. ``sock``, already bound to
    ``host:port`` (see ``vigil.server.listen``), is served instead of binding one here."""
    engine = await open_database(db or stack_store_url(stack.file, stack.model.store.url))
    try:
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        series = stack.model.metrics.folder(stack.file)
        runtime = Runtime(stack, engine, dashboard_url=url, series_path=series)
        app = create_app(runtime)
        # The runtime's long-lived objects (a few hundred thousand at 10,000 checks) would make
        # every full collection a 150 ms pause of the whole loop; freezing them takes them out
        # of the collector's walk.
        gc.collect()
        gc.freeze()
        # Fewer automatic full collections while the board first fills; the runtime freezes
        # survivors every 15 s after that (see Runtime._collector).
        gc.set_threshold(700, 10, 100)
        server = uvicorn.Server(server_config(runtime, app, host, port))
        if announce:
            checks = len(runtime.specs)
            print(
                f"Vigil is up: {checks} checks from {stack.file}; dashboard {url}/  API {url}/docs",
                flush=True,
            )
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler that
        # was in place before it started; a no-op one makes that a clean exit with status 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        await server.serve(sockets=None if sock is None else [sock])
        if not server.started:
            from vigil.errors import VigilError

            raise VigilError(
                f"cannot listen on {host}:{port}; is another process using that port? (use --port)"
            )
    finally:
        await engine.dispose()
