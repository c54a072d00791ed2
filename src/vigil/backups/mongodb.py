"""``mongodb``: one database's collections read through the driver into an archive
(``backups.mongo_archive``), checked by reading it back, proven by restoring it into a scratch
database on the same server that is dropped after.

``mongodump`` is not used: no package registry this runs from ships MongoDB's database tools,
and the driver reads the same data over the same protocol. Like ``mongodump`` without
``--oplog``, the dump is not one point in time: each collection is read as its cursor finds it,
and the manifest's counts are the documents written, exactly. Views and ``system.*``
collections are left out; each collection's options and indexes are kept and recreated.
The database is the source URL's path (``mongodb://user:pass@host:27017/app``). An in-place
restore reads the whole archive through first, then drops and reloads each archived collection
in turn (not in one transaction); collections made since the backup are left as they are.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import importlib
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from vigil.backups import mongo_archive as archive
from vigil.backups.base import Dump, EngineKind
from vigil.errors import BackupError, BackupRefused

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.database import AsyncDatabase

SELECTION_MS = 15_000  # how long the driver may look for the server, unless the URL says
WRITE_BYTES = 1024 * 1024  # documents gathered before one write to the archive
BATCH = 1000  # documents a cursor asks for at once


def _database(url: str) -> str:
    name = unquote(urlsplit(url).path.lstrip("/"))
    if not name:
        raise BackupError(
            "the MongoDB source URL names no database: add it as its path, e.g. mongodb://host/app"
        )
    return name


def _on(url: str, database: str) -> str:
    """``url`` pointed at ``database`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _client(url: str) -> AsyncMongoClient[Any]:
    from bson.raw_bson import RawBSONDocument
    from pymongo import AsyncMongoClient
    from pymongo.errors import ConfigurationError, InvalidURI

    if not url.startswith(("mongodb://", "mongodb+srv://")):
        raise BackupError("the MongoDB source is not a mongodb:// URL")
    # A URL's own serverSelectionTimeoutMS option stands; a keyword would override it.
    given = {name.lower() for name in parse_qs(urlsplit(url).query)}
    wait: dict[str, Any] = (
        {} if "serverselectiontimeoutms" in given else {"serverSelectionTimeoutMS": SELECTION_MS}
    )
    try:
        return AsyncMongoClient(url, appname="vigil-backup", document_class=RawBSONDocument, **wait)
    except (ConfigurationError, InvalidURI, ValueError) as err:
        said = str(err).splitlines()[0].split(" Hint:", 1)[0]
        raise BackupError(f"unusable MongoDB URL: {said}") from None


def _failure(err: Exception, url: str) -> BackupError:
    from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

    where = urlsplit(url).hostname or "localhost"
    if isinstance(err, OperationFailure):
        if err.code == 18:
            return BackupError(
                f"MongoDB at {where} refused the login: check the user and password in the URL"
            )
        message = str((err.details or {}).get("errmsg") or err).splitlines()[0]
        return BackupError(f"MongoDB at {where} refused a command: {message}")
    if isinstance(err, ServerSelectionTimeoutError):
        said = str(err).split(" (configured", 1)[0]  # pymongo's "host:port: cause (configured …)"
        cause = said.split(": ", 1)[1] if said.startswith(where) and ": " in said else said
        return BackupError(f"cannot connect to MongoDB at {where}: {cause}")
    return BackupError(
        f"MongoDB at {where} failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    )


@contextlib.asynccontextmanager
async def _talking(url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    """A client for ``url`` while the block runs; driver errors become ``BackupError``."""
    if "pymongo" not in sys.modules:  # a second or more on a busy host: not on the event loop
        await asyncio.to_thread(importlib.import_module, "pymongo")
    from pymongo.errors import PyMongoError

    client = _client(url)
    try:
        yield client
    except PyMongoError as err:
        raise _failure(err, url) from None
    finally:
        await client.close()


async def _collections(db: AsyncDatabase[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The database's collections (views and system collections left out) with their options."""
    listed = await (await db.list_collections()).to_list(None)
    found = []
    for info in map(_plain, listed):
        name = str(info.get("name", ""))
        if info.get("type", "collection") == "collection" and name and not name.startswith("system."):
            found.append((name, dict(info.get("options") or {})))
    return sorted(found)


def _plain(value: Any) -> Any:
    """A raw BSON document made a dict, recursively, to be written inside a record."""
    import bson

    return bson.decode(value.raw) if hasattr(value, "raw") else value


async def _dump_collection(db: AsyncDatabase[Any], name: str, options: dict[str, Any], out: BinaryIO) -> int:
    collection = db[name]
    indexes = [_plain(spec) for spec in await (await collection.list_indexes()).to_list(None)]
    await asyncio.to_thread(
        out.write,
        archive.record(archive.COLLECTION, {"collection": name, "options": options, "indexes": indexes}),
    )
    pending: list[bytes] = []
    size = documents = 0
    digest = hashlib.sha256()
    async for document in collection.find({}, batch_size=BATCH):
        pending.append(archive.DOCUMENT + document.raw)
        digest.update(document.raw)
        size += len(document.raw)
        documents += 1
        if size >= WRITE_BYTES:
            await asyncio.to_thread(out.write, b"".join(pending))
            pending, size = [], 0
    end = {"collection": name, "documents": documents, "sha256": digest.hexdigest()}
    pending.append(archive.record(archive.END, end))
    await asyncio.to_thread(out.write, b"".join(pending))
    return documents


async def _load(artefact: Path, db: AsyncDatabase[Any], *, replace: bool = False) -> dict[str, int]:
    """Create each archived collection in ``db`` (dropping one there first when ``replace``) with
    its options and indexes, insert its documents, and count them there."""
    from bson.raw_bson import RawBSONDocument

    reading: Iterator[archive.Batch | dict[str, int]] = archive.batches(artefact)
    while (batch := await asyncio.to_thread(next, reading, None)) is not None:
        if not isinstance(batch, archive.Batch):
            break
        collection = db[batch.collection]
        if batch.first:
            if replace:
                await collection.drop()
            await db.command({"create": batch.collection, **batch.options})
            # "ns" was in older servers' listings; newer ones refuse it in createIndexes.
            specs = [
                {k: v for k, v in spec.items() if k != "ns"}
                for spec in batch.indexes
                if spec.get("name") != "_id_"
            ]
            if specs:
                await db.command({"createIndexes": batch.collection, "indexes": specs})
        if batch.documents:
            await collection.insert_many([RawBSONDocument(raw) for raw in batch.documents], ordered=True)
    return {name: await db[name].count_documents({}) for name, _ in await _collections(db)}


class MongoEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        import pymongo

        name = _database(source)
        counts: dict[str, int] = {}
        async with _talking(source) as client:
            info = await client.admin.command("buildInfo")
            db = client[name]
            with into.open("wb") as out:
                header = {"format": archive.FORMAT, "version": archive.VERSION, "database": name}
                await asyncio.to_thread(out.write, archive.record(archive.HEADER, header))
                for collection, options in await _collections(db):
                    counts[collection] = await _dump_collection(db, collection, options, out)
                final = {"collections": len(counts), "documents": sum(counts.values())}
                await asyncio.to_thread(out.write, archive.record(archive.FINAL, final))
        version = str(_plain(info).get("version", "unknown"))
        return Dump(f"MongoDB {version}", f"pymongo {pymongo.version}", counts)

    async def check(self, artefact: Path) -> None:
        # Read through, keeping no batch: memory stays one batch whatever the archive's size.
        await asyncio.to_thread(collections.deque, archive.batches(artefact, decode_documents=True), 0)

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        scratch = f"vigil_verify_{secrets.token_hex(6)}"
        async with _talking(_on(source, scratch)) as client:
            try:
                return await _load(artefact, client[scratch])
            finally:
                await client.drop_database(scratch)

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        name = _database(target)
        if in_place:
            await self.check(artefact)  # the whole archive is sound before anything is dropped
        async with _talking(target) as client:
            db = client[name]
            if in_place:
                return await _load(artefact, db, replace=True)
            if await db.list_collection_names():
                raise BackupRefused(
                    f"the database {name} exists already: restore into a new one, "
                    "or over the job's source with --in-place"
                )
            try:
                return await _load(artefact, db)
            except BaseException:  # nothing half-restored is left looking good
                await client.drop_database(name)
                raise


KIND = EngineKind("mongodb", "archive", MongoEngine)
