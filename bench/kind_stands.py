"""The local servers ``probe_throughput.py --kinds`` checks, in a process of their own so that
their CPU never mixes with the figure measured: a TLS endpoint with a certificate made here, a
DNS server (dnslib), a WebSocket echo, a recorded Statuspage ``summary.json``, and the Qdrant and
MongoDB stand-ins of the test suite (no server of either installs here). Prints one JSON line of
their addresses, then serves until its parent is gone."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import tempfile
from pathlib import Path

from aiohttp import WSMsgType, web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.probes.standins import self_signed
from tests.probes.standins.mongodb import MongoStandIn
from tests.probes.standins.qdrant import Collection, QdrantStandIn

RECORDED = Path(__file__).resolve().parent.parent / "tests/probes/standins/statuspage/operational.json"
ZONE = "bench.example. 60 IN A 127.0.0.1\n"


async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


async def _summary(request: web.Request) -> web.Response:
    return web.Response(body=RECORDED.read_bytes(), content_type="application/json")


async def _site(app: web.Application, context: ssl.SSLContext | None = None) -> int:
    runner = web.AppRunner(app, shutdown_timeout=0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    return int(runner.addresses[0][1])


def _dns() -> int:
    from dnslib import RR
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class Zone(BaseResolver):  # type: ignore[misc]
        def resolve(self, request, handler):  # type: ignore[no-untyped-def]
            reply = request.reply()
            for record in RR.fromZone(ZONE):
                if record.rname == request.q.qname:
                    reply.add_answer(record)
            return reply

    server = DNSServer(Zone(), address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _text: None))
    server.start_thread()
    return int(server.server.server_address[1])


async def serve(folder: Path) -> None:
    app = web.Application()
    app.router.add_get("/ws", _echo)
    app.router.add_get("/api/v2/summary.json", _summary)
    http = await _site(app)
    qdrant = QdrantStandIn(collections={"bench": Collection(points=1000)})
    mongo = MongoStandIn(databases={"bench": {"jobs": [{"n": 1}]}})
    addresses = {
        "websocket": f"ws://127.0.0.1:{http}/ws",
        "statuspage": f"http://127.0.0.1:{http}",
        "tls": f"127.0.0.1:{await _site(web.Application(), self_signed(folder, days=365))}",
        "dns": f"127.0.0.1:{_dns()}",
        "qdrant": f"http://127.0.0.1:{await _site(qdrant.app())}",
        "mongodb": await mongo.start(),
    }
    print(json.dumps(addresses), flush=True)
    # Until the benchmark closes our stdin (or dies): it holds the other end of the pipe.
    await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(serve(Path(tmp)))
