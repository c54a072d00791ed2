"""``qdrant``: a snapshot of one collection made by Qdrant itself (``POST
/collections/{name}/snapshots``), downloaded and checked against the SHA-256 Qdrant gives, then
deleted from the server; checked by reading the snapshot's tar through; proven by uploading it
into a scratch collection (``POST /collections/{scratch}/snapshots/upload``), whose exact point
count is compared with the manifest's, and which is deleted after.

The source is the collection's URL, ``http://host:6333/collections/faq``; an API key goes in it
as a password (``http://:KEY@host:6333/collections/faq``) and is sent as the ``api-key``
header. The manifest's count (``points``) is read exactly just before the snapshot is made, so
points written in between make ``verify: restore`` differ, and say so. A restore names the new
collection the same way; ``--in-place`` uploads over the source collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from vigil.backups.base import Dump, EngineKind
from vigil.errors import BackupError, BackupRefused

if TYPE_CHECKING:
    import aiohttp

CONNECT_TIMEOUT = 15.0
CHUNK = 1024 * 1024


class _Collection:
    """A collection's place: the server's base URL, its name and the headers every call carries."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        head, _, name = parts.path.rstrip("/").rpartition("/collections/")
        if parts.scheme not in ("http", "https") or not parts.hostname or not name or "/" in name:
            raise BackupError(
                "the Qdrant source is not a collection's URL, e.g. http://127.0.0.1:6333/collections/faq"
            )
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            raise BackupError("the port in the Qdrant URL is not a number") from None
        self.host = parts.hostname
        self.server = f"{parts.scheme}://{parts.hostname}{port}{head}"
        self.name = unquote(name)
        self.headers = {"api-key": unquote(parts.password)} if parts.password else {}

    def at(self, name: str) -> _Collection:
        other = _Collection.__new__(_Collection)
        other.host, other.server, other.name, other.headers = self.host, self.server, name, self.headers
        return other

    def url(self, tail: str = "") -> str:
        return f"{self.server}/collections/{quote(self.name, safe='')}{tail}"


@contextlib.asynccontextmanager
async def _session(where: _Collection) -> AsyncIterator[aiohttp.ClientSession]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    try:
        async with aiohttp.ClientSession(headers=where.headers, timeout=timeout) as session:
            yield session
    except aiohttp.ClientError as err:
        raise BackupError(f"cannot reach Qdrant at {where.host}: {str(err) or type(err).__name__}") from None


async def _answer(response: aiohttp.ClientResponse, what: str) -> Any:
    """The ``result`` of a JSON answer, or ``BackupError`` saying what Qdrant said instead."""
    body = await response.read()
    if response.status >= 400:
        said = body[:300].decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            said = str((await response.json(content_type=None))["status"]["error"])
        refused = " (check the API key in the URL)" if response.status in (401, 403) else ""
        raise BackupError(f"Qdrant answered {response.status} to {what}{refused}: {' '.join(said.split())}")
    try:
        return (await response.json(content_type=None))["result"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"Qdrant's answer to {what} is not the JSON it documents") from None


async def _version(session: aiohttp.ClientSession, where: _Collection) -> str:
    """The server's version, from ``GET /``; ``unknown`` when it does not say."""
    async with session.get(f"{where.server}/") as response:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return str((await response.json(content_type=None))["version"])
    return "unknown"


async def _count(session: aiohttp.ClientSession, where: _Collection) -> int:
    async with session.post(where.url("/points/count"), json={"exact": True}) as response:
        result = await _answer(response, f"counting the points of {where.name}")
    return int(result["count"])


async def _download(
    session: aiohttp.ClientSession, where: _Collection, snapshot: dict[str, Any], into: Path
) -> None:
    """Stream the snapshot into ``into``, then compare its size and SHA-256 with Qdrant's."""
    digest, size = hashlib.sha256(), 0
    url = where.url(f"/snapshots/{quote(str(snapshot['name']), safe='')}")
    async with session.get(url) as response:
        if response.status >= 400:
            await _answer(response, f"downloading the snapshot of {where.name}")
        with into.open("wb") as out:
            async for chunk in response.content.iter_chunked(CHUNK):
                await asyncio.to_thread(out.write, chunk)
                digest.update(chunk)
                size += len(chunk)
    expected = snapshot.get("checksum")
    if (expected and digest.hexdigest() != expected) or snapshot.get("size") not in (None, size):
        raise BackupError(
            f"the snapshot downloaded from Qdrant ({size} bytes) is not the one it made "
            f"({snapshot.get('size')} bytes, sha256 {str(expected)[:12]}…)"
        )


async def _upload(session: aiohttp.ClientSession, where: _Collection, artefact: Path) -> int:
    """Recover ``where`` from ``artefact`` (created, or replaced when it exists); its exact count."""
    import aiohttp

    with artefact.open("rb") as snapshot:
        form = aiohttp.FormData()
        form.add_field("snapshot", snapshot, filename=artefact.name, content_type="application/octet-stream")
        url = where.url("/snapshots/upload?priority=snapshot&wait=true")
        async with session.post(url, data=form) as response:
            await _answer(response, f"uploading the snapshot into {where.name}")
    return await _count(session, where)


async def _drop(session: aiohttp.ClientSession, where: _Collection) -> None:
    async with session.delete(where.url()) as response:
        await _answer(response, f"deleting the collection {where.name}")


def _read_through(artefact: Path) -> None:
    try:
        with tarfile.open(artefact, "r:*") as archive:
            members = 0
            for member in archive:
                members += 1
                if member.isfile() and (stream := archive.extractfile(member)) is not None:
                    while stream.read(CHUNK):
                        pass
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BackupError(f"{artefact.name} is not a readable Qdrant snapshot: {err}") from None
    if not members:
        raise BackupError(f"{artefact.name} is not a readable Qdrant snapshot: an empty archive")


class QdrantEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        import aiohttp

        where = _Collection(source)
        async with _session(where) as session:
            version = await _version(session, where)
            points = await _count(session, where)
            async with session.post(where.url("/snapshots?wait=true")) as response:
                snapshot = await _answer(response, f"making a snapshot of {where.name}")
            try:
                await _download(session, where, snapshot, into)
            finally:  # the server keeps no copy: its disk is not the backup's
                with contextlib.suppress(BackupError, aiohttp.ClientError):
                    url = where.url(f"/snapshots/{quote(str(snapshot['name']), safe='')}")
                    async with session.delete(url) as response:
                        await _answer(response, "deleting the snapshot on the server")
        return Dump(f"Qdrant {version}", f"aiohttp {aiohttp.__version__}", {"points": points})

    async def check(self, artefact: Path) -> None:
        await asyncio.to_thread(_read_through, artefact)

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        scratch = _Collection(source).at(f"vigil_verify_{secrets.token_hex(6)}")
        async with _session(scratch) as session:
            try:
                return {"points": await _upload(session, scratch, artefact)}
            finally:
                await _drop(session, scratch)

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        import aiohttp

        where = _Collection(target)
        async with _session(where) as session:
            if in_place:
                return {"points": await _upload(session, where, artefact)}
            async with session.get(where.url()) as response:
                if response.status == 200:
                    raise BackupRefused(
                        f"the collection {where.name} exists already: restore into a new one, "
                        "or over the job's source with --in-place"
                    )
            try:
                return {"points": await _upload(session, where, artefact)}
            except BaseException:  # nothing half-restored is left looking good
                with contextlib.suppress(BackupError, aiohttp.ClientError):
                    await _drop(session, where)
                raise


KIND = EngineKind("qdrant", "snapshot", QdrantEngine)
