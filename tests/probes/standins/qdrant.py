"""A Qdrant stand-in speaking the documented HTTP API, for the ``qdrant`` probe's tests.

It serves ``/readyz`` (200 ``all shards are ready`` or 503 ``some shards are not ready``),
``GET /collections`` and ``GET /collections/{name}`` with the JSON shape Qdrant answers (the
collection info under ``result``, ``status``/``time`` beside it, a 404 with
``status.error`` for a missing collection), and checks the ``api-key`` header the way Qdrant
does when an API key is configured (401 without one, 403 with a wrong one; the health
endpoints need none). Nothing else of Qdrant is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Collection:
    points: int | None = 0
    status: str = "green"
    segments: int = 2


@dataclass
class QdrantStandIn:
    collections: dict[str, Collection] = field(default_factory=dict)
    api_key: str | None = None
    ready: bool = True
    refusal: str = "Invalid API key or JWT"
    seen_keys: list[str | None] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/collections", self._list)
        app.router.add_get("/collections/{name}", self._info)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.seen_keys.append(request.headers.get("api-key"))
        if self.api_key is None or request.path in ("/", "/healthz") or request.path.startswith("/readyz"):
            return await handler(request)
        given = request.headers.get("api-key")
        if given is None:
            return web.Response(status=401, text="Must provide an API key or an Authorization bearer token")
        if given != self.api_key:
            return web.Response(status=403, text=self.refusal.format(key=given))
        return await handler(request)

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="all shards are ready")
        return web.Response(status=503, text="some shards are not ready")

    async def _list(self, request: web.Request) -> web.Response:
        names = [{"name": name} for name in self.collections]
        return web.json_response({"result": {"collections": names}, "status": "ok", "time": 0.000021})

    async def _info(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        found = self.collections.get(name)
        if found is None:
            error = {"error": f"Not found: Collection `{name}` doesn't exist!"}
            return web.json_response({"status": error, "time": 0.000012}, status=404)
        return web.json_response({"result": _info(found), "status": "ok", "time": 0.000412})


def _info(collection: Collection) -> dict[str, Any]:
    """Collection info as Qdrant 1.12 answers it."""
    return {
        "status": collection.status,
        "optimizer_status": "ok",
        "indexed_vectors_count": 0,
        "points_count": collection.points,
        "segments_count": collection.segments,
        "config": {
            "params": {
                "vectors": {"size": 384, "distance": "Cosine"},
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": True,
            },
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "on_disk": False},
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": 0,
                "indexing_threshold": 20000,
                "flush_interval_sec": 5,
            },
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": None,
        },
        "payload_schema": {},
    }
