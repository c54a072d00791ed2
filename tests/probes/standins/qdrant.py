"""A Qdrant stand-in speaking the documented HTTP API, for the ``qdrant`` probe's tests.

It serves ``/readyz`` (200 ``all shards are ready`` or 503 ``some shards are not ready``),
``GET /collections`` and ``GET /collections/{name}`` with the JSON shape Qdrant answers (the
collection info under ``result``, ``status``/``time`` beside it, a 404 with
``status.error`` for a missing collection), and checks the ``api-key`` header the way Qdrant
does when an API key is configured (401 without one, 403 with a wrong one; the health
endpoints need none).

For backups it also serves ``GET /`` (the version), ``POST /collections/{name}/points/count``,
``DELETE /collections/{name}`` and the collection snapshot API: ``POST …/snapshots`` (answers
the snapshot's name, size and SHA-256), ``GET …/snapshots``, ``GET`` and ``DELETE
…/snapshots/{snapshot}``, and ``POST …/snapshots/upload`` (multipart field ``snapshot``), which
creates or replaces the collection from the file. A snapshot here is a tar holding the
collection's ``config.json`` (with its points count) and 16 bytes a point standing for its
segment files, not Qdrant's own layout; an upload that is
not such a tar is refused with 400 as Qdrant refuses a broken one. Nothing else of Qdrant is there.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


@dataclass
class Collection:
    points: int | None = 0
    status: str = "green"
    segments: int = 2
    snapshots: dict[str, bytes] = field(default_factory=dict)


@dataclass
class QdrantStandIn:
    collections: dict[str, Collection] = field(default_factory=dict)
    api_key: str | None = None
    ready: bool = True
    refusal: str = "Invalid API key or JWT"
    seen_keys: list[str | None] = field(default_factory=list)
    torn_downloads: bool = False  # serve a snapshot's bytes with its end cut off, as a dropped link would

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/collections", self._list)
        app.router.add_get("/collections/{name}", self._info)
        app.router.add_get("/", self._version)
        app.router.add_post("/collections/{name}/points/count", self._count)
        app.router.add_delete("/collections/{name}", self._delete)
        app.router.add_post("/collections/{name}/snapshots", self._snapshot)
        app.router.add_get("/collections/{name}/snapshots", self._snapshots)
        app.router.add_get("/collections/{name}/snapshots/{snapshot}", self._download)
        app.router.add_delete("/collections/{name}/snapshots/{snapshot}", self._forget)
        app.router.add_post("/collections/{name}/snapshots/upload", self._upload)
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

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"title": "qdrant - vector search engine", "version": VERSION, "commit": "0" * 40}
        )

    def _found(self, request: web.Request) -> Collection:
        name = request.match_info["name"]
        if name not in self.collections:
            error = {"error": f"Not found: Collection `{name}` doesn't exist!"}
            raise web.HTTPNotFound(
                text=json.dumps({"status": error, "time": 0.0}), content_type="application/json"
            )
        return self.collections[name]

    async def _count(self, request: web.Request) -> web.Response:
        return _ok({"count": self._found(request).points or 0})

    async def _delete(self, request: web.Request) -> web.Response:
        return _ok(self.collections.pop(request.match_info["name"], None) is not None)

    async def _snapshot(self, request: web.Request) -> web.Response:
        found, name = self._found(request), request.match_info["name"]
        made = datetime.now(UTC)
        file = f"{name}-{len(found.snapshots) + 1}-{made:%Y-%m-%d-%H-%M-%S}.snapshot"
        found.snapshots[file] = _tar(found)
        return _ok(_described(file, found.snapshots[file], made))

    async def _snapshots(self, request: web.Request) -> web.Response:
        found = self._found(request)
        return _ok([_described(file, data, datetime.now(UTC)) for file, data in found.snapshots.items()])

    async def _download(self, request: web.Request) -> web.Response:
        data = self._found(request).snapshots.get(request.match_info["snapshot"])
        if data is None:
            raise web.HTTPNotFound(text=json.dumps({"status": {"error": "Not found: snapshot"}}))
        body = data[: len(data) // 2] if self.torn_downloads else data
        return web.Response(body=body, content_type="application/octet-stream")

    async def _forget(self, request: web.Request) -> web.Response:
        return _ok(self._found(request).snapshots.pop(request.match_info["snapshot"], None) is not None)

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("snapshot")
        if not isinstance(upload, web.FileField):
            return web.json_response({"status": {"error": "Wrong input: no snapshot file"}}, status=400)
        try:
            with tarfile.open(fileobj=upload.file, mode="r:") as archive:
                member = archive.extractfile("config.json")
                config = json.loads(member.read() if member else b"")
        except (tarfile.TarError, KeyError, ValueError) as err:
            error = {"error": f"Wrong input: failed to unpack the snapshot: {err}"}
            return web.json_response({"status": error}, status=400)
        self.collections[request.match_info["name"]] = Collection(points=int(config["points"]))
        return _ok(True)


VERSION = "1.12.4"


def _ok(result: Any) -> web.Response:
    return web.json_response({"result": result, "status": "ok", "time": 0.0002})


def _tar(collection: Collection) -> bytes:
    config = json.dumps({"points": collection.points or 0, **_info(collection)["config"]}).encode()
    vectors = hashlib.shake_256(config).digest(16 * (collection.points or 0))  # a point's worth each
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path, data in (("config.json", config), ("0/segments/vectors.bin", vectors)):
            entry = tarfile.TarInfo(path)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return out.getvalue()


def _described(file: str, data: bytes, made: datetime) -> dict[str, Any]:
    return {
        "name": file,
        "creation_time": made.strftime("%Y-%m-%dT%H:%M:%S"),
        "size": len(data),
        "checksum": hashlib.sha256(data).hexdigest(),
    }


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
