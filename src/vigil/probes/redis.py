"""``redis``: PING, optionally thresholds on ``INFO`` fields (memory, clients, …), the server's
health with ``stats: true`` and the length of named lists (``lists: [jobs]``).

Values: ``ping_ms``, each watched INFO field under its own name, ``list_length.<list>`` for each
named list, and with ``stats``: ``memory_used_bytes``, ``memory_max_bytes`` (0: no maxmemory),
``memory_used_ratio`` (only under a maxmemory), ``keyspace_hit_ratio`` (once a key was looked
up), ``connected_clients`` and ``evicted_keys``. ``METRICS`` names their samples.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from vigil.config.check import CheckBase, StrictModel, Threshold
from vigil.probes.base import Metric, Observation, ProbeKind, metric
from vigil.probes.query import (
    as_number,
    connect_failure,
    elapsed_ms,
    endpoint,
    first_line,
    ratio,
    scrub,
    show,
)

if TYPE_CHECKING:
    import redis.asyncio
    import redis.exceptions

DEFAULT_PORT = 6379
MAX_LISTS = 100


class RedisExpect(StrictModel):
    info: dict[str, Threshold] = Field(
        default_factory=dict,
        description=(
            "INFO fields and their bounds, e.g. {connected_clients: {max: 500}}; "
            "a keyspace field is written db0.keys."
        ),
    )


class RedisCheck(CheckBase):
    kind: ClassVar[str] = "redis"

    redis: str = Field(description="Connection URL, e.g. redis://127.0.0.1:6379/0.")
    stats: bool = Field(
        False,
        description="Also measure memory against maxmemory, hit ratio, clients and evicted keys as samples.",
    )
    lists: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        default_factory=list,
        max_length=MAX_LISTS,
        description="Keys of lists (queues) whose length is kept, e.g. [queue:default]; a missing key is empty.",
    )
    expect: RedisExpect = Field(default_factory=RedisExpect)


class RedisProbe:
    """A new client of one connection for every observation, closed after it.

    Nothing is cached: a long-lived client reconnects (and retries) behind our back and keeps a
    socket open between runs, so a stopped server could look healthy on a stale connection and
    the engine's own retries would be doubled. A fresh connection sees a stopped server at once
    and a restarted one without any reconnect logic; one connect per interval is cheap. The
    client's pool holds at most that one connection, which PING and the pipeline share.

    Values: ``ping_ms`` and each watched INFO field under its own name.
    """

    async def observe(self, check: RedisCheck) -> Observation:
        import redis.asyncio
        import redis.exceptions
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        url = check.redis
        try:
            client = redis.asyncio.from_url(
                url,
                socket_connect_timeout=check.timeout,
                socket_timeout=check.timeout,
                retry=Retry(NoBackoff(), 0),  # retrying is the engine's job (the check's `retries`)
                max_connections=1,
                # RESP2: every Redis (and Valkey, KeyDB, managed services) speaks it, while
                # redis-py's default RESP3 needs HELLO (Redis 6+) and, via HELLO AUTH, lets a
                # password through a server that has none set; plain AUTH rejects that.
                protocol=2,
            )
        except ValueError as err:  # a malformed URL: redis-py names the schemes it accepts
            return Observation.failed(scrub(first_line(err), url))
        try:
            return await _look(client, check)
        except redis.exceptions.AuthenticationError as err:
            return Observation.failed(_auth_reason(err, url))
        except redis.exceptions.TimeoutError as err:
            raise TimeoutError from err  # the engine words a timeout the same way for every kind
        except redis.exceptions.ConnectionError as err:
            return Observation.failed(scrub(_connection_reason(err, url), url))
        except redis.exceptions.ResponseError as err:  # e.g. "DB index is out of range", NOPERM
            return Observation.failed(scrub(f"redis error: {first_line(err)}", url))
        finally:
            await client.aclose()

    async def close(self) -> None:
        return None  # nothing is kept between observations


async def _look(client: redis.asyncio.Redis, check: RedisCheck) -> Observation:
    import redis.exceptions

    # Connect and authenticate first, so ping_ms is the round trip only.
    pool = client.connection_pool
    await pool.release(await pool.get_connection())  # type: ignore[no-untyped-call]
    start = time.perf_counter()
    await client.ping()
    values: dict[str, float] = {"ping_ms": elapsed_ms(start)}
    wants_info = check.stats or bool(check.expect.info)
    if not wants_info and not check.lists:
        return Observation.passed(**values)
    # INFO and every LLEN in one round trip, on the same connection.
    async with client.pipeline(transaction=False) as pipe:
        if wants_info:
            pipe.info()
        for name in check.lists:
            pipe.llen(name)
        answers: list[Any] = await pipe.execute(raise_on_error=False)
    problems: list[str] = []
    if wants_info:
        info = answers.pop(0)
        if isinstance(info, Exception):
            raise info
        if check.stats:
            values.update(stats_values(info))
        problems += _judge_info(info, check, values)
    for name, answer in zip(check.lists, answers, strict=True):
        if isinstance(answer, redis.exceptions.ResponseError):
            problems.append(
                f"key {show(name)} is not a list" if "WRONGTYPE" in str(answer) else first_line(answer)
            )
        elif isinstance(answer, Exception):
            raise answer
        else:
            values[f"list_length.{name}"] = float(answer)
    # Every watched field is judged and kept; the reason names each one out of bounds.
    return Observation(not problems, "; ".join(problems) or None, values)


def stats_values(info: Mapping[str, Any]) -> dict[str, float]:
    """The health numbers of parsed INFO; one the server does not report is left out."""
    found = {name: as_number(info.get(field)) for name, field in _STATS.items()}
    values = {name: number for name, number in found.items() if number is not None}
    memory_max = values.get("memory_max_bytes")
    if memory_max:  # maxmemory 0 is "no limit": no ratio to speak of
        values["memory_used_ratio"] = values.get("memory_used_bytes", 0.0) / memory_max
    hits, misses = as_number(info.get("keyspace_hits")), as_number(info.get("keyspace_misses"))
    hit_ratio = ratio(hits, (hits or 0.0) + (misses or 0.0))
    if hit_ratio is not None:
        values["keyspace_hit_ratio"] = hit_ratio
    return values


_STATS = {
    "memory_used_bytes": "used_memory",
    "memory_max_bytes": "maxmemory",
    "connected_clients": "connected_clients",
    "evicted_keys": "evicted_keys",
}


def _judge_info(info: Mapping[str, Any], check: RedisCheck, values: dict[str, float]) -> list[str]:
    problems: list[str] = []
    for name, threshold in check.expect.info.items():
        found, raw = _field(info, name)
        if not found:
            problems.append(f"info {name} not in INFO{_did_you_mean(name, info)}")
            continue
        number = as_number(raw)
        if number is None:
            problems.append(f"info {name} is {show(raw)}, not a number")
            continue
        values[name] = number
        breach = threshold.breach(number)
        if breach:
            problems.append(f"info {name} {breach}")
    return problems


def _field(info: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``name`` in parsed INFO; ``db0.keys`` reaches into the keyspace section's mappings."""
    if name in info:
        return True, info[name]
    section, _, key = name.partition(".")
    nested = info.get(section)
    if key and isinstance(nested, Mapping) and key in nested:
        return True, nested[key]
    return False, None


def _did_you_mean(name: str, info: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(info), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _auth_reason(err: redis.exceptions.AuthenticationError, url: str) -> str:
    # Redis's own texts ("NOAUTH …", "WRONGPASS …") are terse; say what to fix instead.
    if "without any password configured" in str(err):
        # The URL has a password the server does not ask for: it lost its requirepass (a restart
        # with a default config?) and now serves anyone.
        return "authentication failed: a password was given but the server has none set"
    try:
        has_password = urlsplit(url).password is not None
    except ValueError:
        has_password = False
    return "authentication failed" if has_password else "authentication required: no password in the URL"


def _connection_reason(err: redis.exceptions.ConnectionError, url: str) -> str:
    # redis-py wraps the socket error ("Error 111 connecting to …"); the cause reads better.
    cause = err.__cause__ or err.__context__
    if isinstance(cause, TimeoutError):
        raise TimeoutError from err
    if isinstance(cause, OSError):
        return connect_failure(cause, endpoint(url, DEFAULT_PORT))
    return f"connection failed: {first_line(err)}"


METRICS: tuple[Metric, ...] = (
    metric("redis", "ping_ms", "Round trip of PING on an open connection."),
    metric("redis", "memory_used_bytes", "Memory Redis has allocated (INFO used_memory)."),
    metric("redis", "memory_max_bytes", "The maxmemory setting; 0 means no limit."),
    metric("redis", "memory_used_ratio", "memory_used_bytes / memory_max_bytes, only under a maxmemory."),
    metric("redis", "keyspace_hit_ratio", "keyspace_hits / (keyspace_hits + keyspace_misses) since start."),
    metric("redis", "connected_clients", "Client connections, this check's own included."),
    metric("redis", "evicted_keys", "Keys evicted under maxmemory since the server started (a counter)."),
    metric("redis", "list_length", "Length of each named list (0 when the key is missing).", label="list"),
)

KIND = ProbeKind("redis", RedisCheck, RedisProbe, METRICS, loads=("redis.asyncio",))
