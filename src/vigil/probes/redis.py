"""``redis``: PING, and optionally thresholds on ``INFO`` fields (memory, clients, …)."""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from vigil.config.check import CheckBase, StrictModel, Threshold
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.query import as_number, connect_failure, elapsed_ms, endpoint, first_line, scrub, show

if TYPE_CHECKING:
    import redis.asyncio
    import redis.exceptions

DEFAULT_PORT = 6379


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
    expect: RedisExpect = Field(default_factory=RedisExpect)


class RedisProbe:
    """A new single-connection client for every observation, closed after it.

    Nothing is cached: a pooled client reconnects (and retries) behind our back and keeps a
    socket open between runs, so a stopped server could look healthy on a stale connection and
    the engine's own retries would be doubled. A fresh connection sees a stopped server at once
    and a restarted one without any reconnect logic; one connect per interval is cheap.

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
                single_connection_client=True,
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
    await client.initialize()  # connect and authenticate first, so ping_ms is the round trip only
    start = time.perf_counter()
    await client.ping()
    values: dict[str, float] = {"ping_ms": elapsed_ms(start)}
    if not check.expect.info:
        return Observation.passed(**values)
    info: Mapping[str, Any] = await client.info()
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
    # Every watched field is judged and kept; the reason names each one out of bounds.
    return Observation(not problems, "; ".join(problems) or None, values)


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


KIND = ProbeKind("redis", RedisCheck, RedisProbe, loads=("redis.asyncio",))
