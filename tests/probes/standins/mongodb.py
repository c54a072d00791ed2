"""A MongoDB stand-in speaking the wire protocol, enough for pymongo to connect and for the
``mongodb`` probe to run its commands.

It answers the handshake (``hello``/``isMaster`` over legacy OP_QUERY, as drivers send it first,
then OP_MSG), ``ping``, ``buildInfo``, ``listCollections``, ``count``, ``aggregate`` (``$match``
with equality and comparison operators, ``$group`` with ``$sum``, ``$count``, ``$limit``,
``$skip``) and ``endSessions``, with documents encoded by pymongo's own ``bson``; and what a
backup and a restore use: ``find`` with its cursor (a first batch of 101 documents or
``batchSize``, then ``getMore`` and ``killCursors``), ``listIndexes``, ``insert``, ``create``,
``createIndexes``, ``drop`` and ``dropDatabase``. Left out: real authentication (any
``saslStart`` fails the way a wrong password does), filters on ``find``, compression, and
everything else a server does.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bson

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
_HEADER = struct.Struct("<iiii")
VERSION = (7, 0, 14)


@dataclass
class MongoStandIn:
    """The state a test sets: databases of collections of documents, and how the server behaves."""

    databases: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    requires_auth: bool = False
    garbage: bool = False
    commands: list[str] = field(default_factory=list)
    options: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    indexes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cursors_opened: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return f"mongodb://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                length, request_id, _, opcode = _HEADER.unpack(header)
                body = await reader.readexactly(length - _HEADER.size)
                if self.garbage:
                    writer.write(b"\x10\x00\x00\x00this is not bson at all")
                    await writer.drain()
                    continue
                writer.write(self._answer(opcode, body, request_id))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(self, opcode: int, body: bytes, request_id: int) -> bytes:
        if opcode == OP_QUERY:
            # flags, then the namespace as a C string, skip and return counts, then the command.
            end = body.index(b"\x00", 4)
            command = bson.decode(body[end + 9 :][: struct.unpack_from("<i", body, end + 9)[0]])
            reply = bson.encode(self.run(command, "admin"))
            payload = struct.pack("<iqii", 0, 0, 0, 1) + reply
            return _HEADER.pack(_HEADER.size + len(payload), 0, request_id, OP_REPLY) + payload
        command = _op_msg_command(body)
        reply = bson.encode(self.run(command, str(command.get("$db", "admin"))))
        payload = struct.pack("<IB", 0, 0) + reply
        return _HEADER.pack(_HEADER.size + len(payload), 0, request_id, OP_MSG) + payload

    def run(self, command: dict[str, Any], db: str) -> dict[str, Any]:
        name = next(iter(command))
        self.commands.append(name)
        handler = _COMMANDS.get(name.lower())
        if handler is None:
            return _error(59, "CommandNotFound", f"no such command: '{name}'")
        if self.requires_auth and name.lower() not in _OPEN:
            return _error(13, "Unauthorized", f"Command {name} requires authentication")
        return handler(self, command, db)

    def collection(self, db: str, name: str) -> list[dict[str, Any]]:
        return self.databases.get(db, {}).get(name, [])


def _op_msg_command(body: bytes) -> dict[str, Any]:
    """The body section, with any document sequences (kind 1) folded in under their names."""
    flags = struct.unpack_from("<I", body)[0]
    end = len(body) - (4 if flags & 1 else 0)
    offset, command, sequences = 4, {}, {}
    while offset < end:
        kind = body[offset]
        offset += 1
        size = struct.unpack_from("<i", body, offset)[0]
        if kind == 0:
            command = bson.decode(body[offset : offset + size])
        else:
            name_end = body.index(b"\x00", offset + 4)
            name = body[offset + 4 : name_end].decode()
            sequences[name] = bson.decode_all(body[name_end + 1 : offset + size])
        offset += size
    return {**command, **sequences}


def _error(code: int, code_name: str, message: str) -> dict[str, Any]:
    return {"ok": 0.0, "errmsg": message, "code": code, "codeName": code_name}


def _hello(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    return {
        "helloOk": True,
        "ismaster": True,
        "isWritablePrimary": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": 1,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "readOnly": False,
        "ok": 1.0,
    }


def _build_info(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    return {"version": ".".join(map(str, VERSION)), "versionArray": [*VERSION, 0], "ok": 1.0}


def _sasl(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    return _error(18, "AuthenticationFailed", "Authentication failed.")


def _list_collections(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    wanted = (command.get("filter") or {}).get("name")
    names = [n for n in server.databases.get(db, {}) if wanted is None or n == wanted]
    batch = [{"name": n, "type": "collection", "options": server.options.get((db, n), {})} for n in names]
    return {"cursor": {"id": 0, "ns": f"{db}.$cmd.listCollections", "firstBatch": batch}, "ok": 1.0}


def _count(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    docs = server.collection(db, command["count"])
    return {"n": sum(1 for d in docs if _matches(d, command.get("query") or {})), "ok": 1.0}


def _aggregate(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    docs = list(server.collection(db, command["aggregate"]))
    for stage in command["pipeline"]:
        (op, arg), *_ = stage.items()
        if op == "$match":
            docs = [d for d in docs if _matches(d, arg)]
        elif op == "$group":
            docs = [_group(docs, arg)] if docs else []
        elif op == "$count":
            docs = [{arg: len(docs)}] if docs else []
        elif op == "$limit":
            docs = docs[:arg]
        elif op == "$skip":
            docs = docs[arg:]
        else:
            return _error(40324, "Location40324", f"Unrecognized pipeline stage name: '{op}'")
    ns = f"{db}.{command['aggregate']}"
    return {"cursor": {"id": 0, "ns": ns, "firstBatch": docs}, "ok": 1.0}


def _group(docs: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"_id": spec["_id"]}
    for name, accumulator in spec.items():
        if name != "_id":
            term = accumulator["$sum"]
            out[name] = sum(d.get(term[1:], 0) if isinstance(term, str) else term for d in docs)
    return out


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, wanted in query.items():
        value = doc.get(key)
        if isinstance(wanted, dict) and wanted and all(k.startswith("$") for k in wanted):
            if not all(_COMPARE[op](value, operand) for op, operand in wanted.items()):
                return False
        elif value != wanted:
            return False
    return True


def _ok(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    return {"ok": 1.0}


def _cursor(
    server: MongoStandIn, ns: str, docs: list[dict[str, Any]], size: int, first: bool
) -> dict[str, Any]:
    """A batch of ``docs``, and the cursor id under which the rest waits (0 when none is left)."""
    batch, rest = docs[:size], docs[size:]
    cursor_id = 0
    if rest:
        server.cursors_opened += 1
        cursor_id = server.cursors_opened
        server.cursors[cursor_id] = rest
    key = "firstBatch" if first else "nextBatch"
    return {"cursor": {"id": bson.Int64(cursor_id), "ns": ns, key: batch}, "ok": 1.0}


def _find(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    name = command["find"]
    return _cursor(
        server, f"{db}.{name}", list(server.collection(db, name)), command.get("batchSize", 101), True
    )


def _get_more(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    docs = server.cursors.pop(int(command["getMore"]), None)
    if docs is None:
        return _error(43, "CursorNotFound", f"cursor id {command['getMore']} not found")
    ns = f"{db}.{command['collection']}"
    return _cursor(server, ns, docs, command.get("batchSize", len(docs)), False)


def _kill_cursors(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    killed = [cursor for cursor in command["cursors"] if server.cursors.pop(int(cursor), None) is not None]
    return {
        "cursorsKilled": killed,
        "cursorsNotFound": [],
        "cursorsAlive": [],
        "cursorsUnknown": [],
        "ok": 1.0,
    }


def _list_indexes(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    name = command["listIndexes"]
    if name not in server.databases.get(db, {}):
        return _error(26, "NamespaceNotFound", f"ns does not exist: {db}.{name}")
    specs = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, *server.indexes.get((db, name), [])]
    return {"cursor": {"id": bson.Int64(0), "ns": f"{db}.{name}", "firstBatch": specs}, "ok": 1.0}


def _insert(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    docs = command.get("documents", [])
    server.databases.setdefault(db, {}).setdefault(command["insert"], []).extend(docs)
    return {"n": len(docs), "ok": 1.0}


def _create(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    name = command["create"]
    if name in server.databases.get(db, {}):
        return _error(48, "NamespaceExists", f"Collection {db}.{name} already exists.")
    server.databases.setdefault(db, {})[name] = []
    options = {k: v for k, v in command.items() if k != "create" and not k.startswith("$") and k != "lsid"}
    if options:
        server.options[(db, name)] = options
    return {"ok": 1.0}


def _create_indexes(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    name = command["createIndexes"]
    server.databases.setdefault(db, {}).setdefault(name, [])
    specs = server.indexes.setdefault((db, name), [])
    before = len(specs) + 1
    specs.extend(command["indexes"])
    return {"numIndexesBefore": before, "numIndexesAfter": len(specs) + 1, "ok": 1.0}


def _drop(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    name = command["drop"]
    server.databases.get(db, {}).pop(name, None)
    server.options.pop((db, name), None)
    server.indexes.pop((db, name), None)
    return {"ns": f"{db}.{name}", "ok": 1.0}


def _drop_database(server: MongoStandIn, command: dict[str, Any], db: str) -> dict[str, Any]:
    for name in list(server.databases.get(db, {})):
        _drop(server, {"drop": name}, db)
    server.databases.pop(db, None)
    return {"dropped": db, "ok": 1.0}


_COMMANDS: dict[str, Callable[[MongoStandIn, dict[str, Any], str], dict[str, Any]]] = {
    "hello": _hello,
    "ismaster": _hello,
    "buildinfo": _build_info,
    "ping": _ok,
    "endsessions": _ok,
    "saslstart": _sasl,
    "listcollections": _list_collections,
    "count": _count,
    "aggregate": _aggregate,
    "find": _find,
    "getmore": _get_more,
    "killcursors": _kill_cursors,
    "listindexes": _list_indexes,
    "insert": _insert,
    "create": _create,
    "createindexes": _create_indexes,
    "drop": _drop,
    "dropdatabase": _drop_database,
}
# What a real server answers before authentication.
_OPEN = frozenset({"hello", "ismaster", "buildinfo", "ping", "saslstart", "endsessions"})
