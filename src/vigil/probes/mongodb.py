"""``mongodb``: ``ping``, the server's version, and optionally a count or an aggregation's value.

Like ``postgres``'s ``query``, a check may ask one question of the data and judge the answer:
``count: {collection: users, filter: {active: true}}`` with ``expect: {count_min: 1}``, or
``aggregate: {collection: jobs, pipeline: [...]}`` whose first document's first field (or
``field``) is judged by ``expect.value`` or ``expect.range``. A collection that does not exist
fails by name rather than counting as empty. Pipelines that write (``$out``, ``$merge``) are
refused when the stack file is read.

Values: ``connect_ms`` (server selection, connection and ``buildInfo``), ``ping_ms``,
``server_version_num`` (7.0.14 is 70014, like PostgreSQL's ``server_version_num``), and
``count`` or ``value`` (when numeric) with ``query_ms``.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.query import QueryExpect, as_number, connect_failure, elapsed_ms, first_line, judge, scrub

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

MAX_STAGES = 20
_WRITING_STAGES = frozenset({"$out", "$merge"})


def _selection_ms(timeout: float) -> int:
    """How long the driver may look for a usable server: it gives up before the engine does, so a
    refused or unresolvable server is named as such rather than as a bare timeout. The driver
    re-checks a server every half second and notices its deadline only then, hence the margin."""
    return int(1000 * max(timeout * 0.4, min(timeout * 0.8, timeout - 1.0)))


class MongoCount(StrictModel):
    collection: str = Field(min_length=1, max_length=255)
    filter: dict[str, Any] = Field(default_factory=dict, description="A query filter, e.g. {active: true}.")


class MongoAggregate(StrictModel):
    collection: str = Field(min_length=1, max_length=255)
    pipeline: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_STAGES)
    field: str | None = Field(
        None, description="Dotted path of the value in the first document; default: its first field but _id."
    )

    @field_validator("pipeline")
    @classmethod
    def _reads_only(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for stage in value:
            if len(stage) != 1:
                raise ValueError(f"each stage has exactly one operator, got {sorted(stage)}")
            if next(iter(stage)) in _WRITING_STAGES:
                raise ValueError(f"{next(iter(stage))} writes; a check only reads")
        return value


class MongoExpect(QueryExpect):
    count_min: int | None = Field(None, ge=0, description="Fewest documents count may find.")
    count_max: int | None = Field(None, ge=0, description="Most documents count may find.")
    version_min: str | None = Field(
        None, pattern=r"^\d+(\.\d+){0,2}$", description="Oldest acceptable server version, e.g. '6.0'."
    )

    @property
    def judges_answer(self) -> bool:
        """Whether ``value`` or ``range`` judge an aggregation's answer."""
        return self.wants_value or self.range is not None


class MongoCheck(CheckBase):
    kind: ClassVar[str] = "mongodb"

    mongodb: str = Field(description="Connection URL, e.g. mongodb://user:pass@host:27017/app.")
    database: str | None = Field(None, description="Database of count/aggregate; default: the URL's.")
    count: MongoCount | None = None
    aggregate: MongoAggregate | None = None
    expect: MongoExpect = Field(default_factory=MongoExpect)  # type: ignore[arg-type]

    @field_validator("mongodb")
    @classmethod
    def _is_mongodb_url(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("expected a mongodb:// or mongodb+srv:// URL")
        return value

    @model_validator(mode="after")
    def _question_fits_expectation(self) -> MongoCheck:
        expect = self.expect
        if self.count is not None and self.aggregate is not None:
            raise ValueError("give count or aggregate, not both")
        if (expect.count_min is not None or expect.count_max is not None) and self.count is None:
            raise ValueError("expect.count_min/count_max judge count, but no count is given")
        if expect.judges_answer and self.aggregate is None:
            raise ValueError("expect.value/range judge the answer of aggregate, but no aggregate is given")
        if (self.count or self.aggregate) and not self.database_name:
            raise ValueError("count and aggregate need a database: put it in the URL (…/app) or in database")
        return self

    @property
    def database_name(self) -> str | None:
        if self.database:
            return self.database
        path = urlsplit(self.mongodb).path.lstrip("/")
        return unquote(path) or None


class MongoProbe:
    """A new client for every observation, closed after it: as for ``postgres``, whether the
    server still accepts a new connection is what a health check is for."""

    async def observe(self, check: MongoCheck) -> Observation:
        if "pymongo" not in sys.modules:
            # The driver takes a second or more to import on a busy host: not on the event loop.
            await asyncio.to_thread(importlib.import_module, "pymongo")
        from pymongo import AsyncMongoClient
        from pymongo.errors import PyMongoError

        url = check.mongodb
        share = _selection_ms(check.timeout)
        try:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                url,
                serverSelectionTimeoutMS=share,
                connectTimeoutMS=share,
                appname="vigil",
                retryReads=False,  # retrying is the engine's job (the check's `retries`)
                maxPoolSize=1,
            )
        except (PyMongoError, ValueError) as err:  # a malformed URL or option
            return Observation.failed(scrub(f"unusable URL: {err}", url))
        try:
            observation = await _look(client, check)
        except PyMongoError as err:
            return Observation.failed(scrub(_failure(err, client), url))
        finally:
            await client.close()
        if observation.reason:
            return Observation(observation.ok, scrub(observation.reason, url), observation.values)
        return observation

    async def close(self) -> None:
        return None  # nothing is kept between observations


async def _look(client: Any, check: MongoCheck) -> Observation:
    start = time.perf_counter()
    info = await client.admin.command("buildInfo")
    values: dict[str, float] = {"connect_ms": elapsed_ms(start)}
    start = time.perf_counter()
    await client.admin.command("ping")
    values["ping_ms"] = elapsed_ms(start)
    version = _version(str(info.get("version", "")))
    values["server_version_num"] = version[0] * 10000 + version[1] * 100 + version[2]
    wanted = check.expect.version_min
    if wanted and version < _version(wanted):
        shown = ".".join(map(str, version))
        return Observation.failed(f"server version {shown}, expected at least {wanted}", **values)
    question = check.count or check.aggregate
    if question is None:
        return Observation.passed(**values)
    database = client[check.database_name]
    missing = await _missing(database, question.collection)
    if missing:
        return Observation.failed(missing, **values)
    collection = database[question.collection]
    max_ms = _selection_ms(check.timeout)  # the server gives up on the query before the engine does
    start = time.perf_counter()
    if isinstance(question, MongoCount):
        found = await collection.count_documents(question.filter, maxTimeMS=max_ms)
        values.update(count=found, query_ms=elapsed_ms(start))
        return _judge_count(found, check.expect, values)
    # Only the first document is judged: the server need not make more.
    cursor = await collection.aggregate([*question.pipeline, {"$limit": 1}], maxTimeMS=max_ms)
    documents = await cursor.to_list(1)
    values["query_ms"] = elapsed_ms(start)
    return _judge_value(documents, question.field, check.expect, values)


async def _missing(database: AsyncDatabase[Any], name: str) -> str | None:
    """Why collection ``name`` cannot be asked (it does not exist), or None."""
    if await database.list_collection_names(filter={"name": name}):
        return None
    import difflib

    listed = await database.list_collections(nameOnly=True, authorizedCollections=True)
    names = [str(info.get("name")) for info in await listed.to_list(1000)]  # enough for a hint
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"collection {name} does not exist in database {database.name}{hint}"


def _judge_count(found: int, expect: MongoExpect, values: dict[str, float]) -> Observation:
    if expect.count_min is not None and found < expect.count_min:
        return Observation.failed(
            f"count found {found} documents, expected at least {expect.count_min}", **values
        )
    if expect.count_max is not None and found > expect.count_max:
        return Observation.failed(
            f"count found {found} documents, expected at most {expect.count_max}", **values
        )
    return Observation.passed(**values)


def _judge_value(
    documents: list[dict[str, Any]], field: str | None, expect: MongoExpect, values: dict[str, float]
) -> Observation:
    if not documents:
        if not expect.judges_answer:
            return Observation.passed(**values)
        return Observation.failed("aggregate returned no documents", **values)
    found, value = _pick(documents[0], field)
    if not found:
        return Observation.failed(f"aggregate's first document has no field {field}", **values)
    number = as_number(value)
    if number is not None:
        values["value"] = number
    reason = judge(value, expect)
    return Observation(reason is None, reason.replace("query", "aggregate", 1) if reason else None, values)


def _pick(document: dict[str, Any], path: str | None) -> tuple[bool, Any]:
    if path is None:
        fields = [key for key in document if key != "_id"] or list(document)
        return (True, document[fields[0]]) if fields else (False, None)
    here: Any = document
    for key in path.split("."):
        if not isinstance(here, dict) or key not in here:
            return False, None
        here = here[key]
    return True, here


def _failure(err: Exception, client: Any) -> str:
    """``err`` as one line: what failed, and where when it is the network."""
    from pymongo.errors import ExecutionTimeout, OperationFailure, ServerSelectionTimeoutError

    if isinstance(err, ExecutionTimeout):  # maxTimeMS ran out on the server
        raise TimeoutError from err  # the engine words every timeout alike
    if isinstance(err, OperationFailure):
        message = first_line(Exception((err.details or {}).get("errmsg") or err))
        if err.code == 18:  # AuthenticationFailed: the server says no more, on purpose
            return "authentication failed: check the user and password in the URL"
        if err.code == 13:  # Unauthorized
            return f"not authorized: {message}"
        return f"command failed: {message}"
    if isinstance(err, ServerSelectionTimeoutError):
        return _unreachable(client)
    return first_line(err)


def _unreachable(client: Any) -> str:
    """Why no server could be used, from what the client last saw of each."""
    servers = client.topology_description.server_descriptions()
    failures = [
        _server_failure(address, sd.error) if sd.error else f"no answer in time ({_where(address)})"
        for address, sd in servers.items()
        if sd.error or sd.server_type_name == "Unknown"
    ]
    if failures:
        return "; ".join(failures[:3])
    # Every server answered, but none can serve a read from the primary (a replica set mid-election).
    seen = ", ".join(f"{_where(address)} {sd.server_type_name}" for address, sd in servers.items())
    return f"no primary to answer ({seen or 'no servers'})"


# pymongo words a server's failure as "host:port: detail (configured timeouts: …)".
_ERRNO = re.compile(r"\[Errno (-?\d+)\] (.*)")


def _server_failure(address: tuple[str, int], error: Exception) -> str:
    where = _where(address)
    detail = str(error).split(" (configured timeouts", 1)[0].removeprefix(f"{where}: ")
    match = _ERRNO.match(detail)
    if match:
        number, text = int(match[1]), match[2]
        # Negative numbers are the resolver's (EAI_*): say so the way every other probe does.
        cause = socket.gaierror(number, text) if number < 0 else OSError(number, text)
        return connect_failure(cause, where)
    if type(error).__name__ == "ProtocolError":
        return f"not a MongoDB server's answer ({where}): {first_line(error)}"
    return f"{detail} ({where})"


def _where(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _version(text: str) -> tuple[int, int, int]:
    """``7.0.14`` (or ``7.0.14-rc1``, ``6.0``) as ``(7, 0, 14)``."""
    numbers = [int(part) for part in re.findall(r"\d+", text.split("-", maxsplit=1)[0])[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    return major, minor, patch


KIND = ProbeKind("mongodb", MongoCheck, MongoProbe, loads=("pymongo",))
