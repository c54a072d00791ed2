"""``celery``: Celery workers answer a control ``ping``, and named queues are not backed up.

The broker is read first: for a Redis broker a ``PING`` (through the ``redis`` probe, so a
refused connection or a wrong password reads the same) and the length of each queue's lists;
for an AMQP broker a passive declare of each queue (through the ``amqp`` probe's reader). Only
a broker that answered is then asked to ping the workers.

Celery's control API blocks, so the ping runs on this probe's own small thread pool, not the
loop's default one: a ping holds its thread for its whole window (``ping_timeout``), and a few
celery checks would otherwise starve name lookups (``getaddrinfo``) that every other probe needs.
Its sockets time out with the check, so a thread never outlives an attempt by more than that.

Beat is not watched here: a ``heartbeat`` check that a beat-scheduled task pings does that.

Values: ``workers`` (workers that answered ping; absent when ``workers_min`` is null) and
``queue_messages.<queue>`` for each named queue (on Redis the messages waiting in the queue's
lists, its priority lists included; on AMQP the messages ready for delivery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.config.durations import Duration, format_duration
from vigil.errors import ProbeError
from vigil.probes.amqp import (
    QUEUES_MAX,
    QueueName,
    depth_problem,
    distinct,
    plural,
    read_queues,
    require_scheme,
)
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.describe import describe_error
from vigil.probes.query import first_line, scrub

REDIS_SCHEMES = ("redis", "rediss")
SCHEMES = (*REDIS_SCHEMES, "amqp", "amqps", "pyamqp")
PING_THREADS = 8
# Kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own,
# named queue + "\x06\x16" + priority; priority 0 (the default) is the queue's own name.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)

Depths = tuple[dict[str, int], list[str]]
"""Messages in each queue found, and the queues the broker does not have."""


class CeleryExpect(StrictModel):
    workers_min: int | None = Field(
        1, ge=0, description="At least this many workers answer ping; null: do not ping at all."
    )
    queue_max: int | None = Field(
        None, ge=0, description="Each named queue holds at most this many messages."
    )


class CeleryCheck(CheckBase):
    kind: ClassVar[str] = "celery"

    celery: str = Field(description="Broker URL: redis://…, rediss://…, amqp://… or amqps://….")
    queues: list[QueueName] = Field(
        default_factory=list, max_length=QUEUES_MAX, description="Queues whose depth is read, e.g. [celery]."
    )
    ping_timeout: Duration | None = Field(
        None,
        description=(
            "How long workers have to answer ping, shorter than the check's timeout; "
            "default 1s, or half the timeout when that is shorter."
        ),
    )
    expect: CeleryExpect = Field(default_factory=lambda: CeleryExpect.model_validate({}))

    @field_validator("celery")
    @classmethod
    def _is_broker_url(cls, value: str) -> str:
        return require_scheme(value, SCHEMES, "redis://127.0.0.1:6379/0")

    @field_validator("queues")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return distinct(value)

    @model_validator(mode="after")
    def _bounds_fit(self) -> CeleryCheck:
        if self.expect.queue_max is not None and not self.queues:
            raise ValueError("expect.queue_max bounds the queues listed in queues, but none are listed")
        if self.ping_timeout is None:
            return self
        if self.ping_timeout <= 0:
            raise ValueError("ping_timeout must be longer than 0s")
        if self.expect.workers_min is not None and self.ping_timeout >= self.timeout:
            raise ValueError(
                f"ping_timeout ({format_duration(self.ping_timeout)}) must be shorter than "
                f"timeout ({format_duration(self.timeout)}): the ping waits that long for answers"
            )
        return self

    @property
    def ping_window(self) -> float:
        """Seconds the ping waits for answers: it always waits this long, even when all answered."""
        return self.ping_timeout if self.ping_timeout is not None else min(1.0, self.timeout / 2)

    @property
    def on_redis(self) -> bool:
        return self.celery.split("://", 1)[0].lower() in REDIS_SCHEMES


class CeleryProbe:
    """A new broker connection for every observation; only the ping threads are kept."""

    def __init__(self) -> None:
        self._threads: ThreadPoolExecutor | None = None

    async def observe(self, check: CeleryCheck) -> Observation:
        url = check.celery
        try:
            depths, missing = await (_redis_depths(check) if check.on_redis else _amqp_depths(check))
        except ProbeError as err:
            return Observation.failed(scrub(f"broker: {err}", url))
        values: dict[str, float] = {f"queue_messages.{name}": count for name, count in depths.items()}
        problems = [f"queue {name} does not exist" for name in missing]
        least = check.expect.workers_min
        if least is not None:
            try:
                workers = await self._ping(check)
            except Exception as err:  # whatever kombu raises is the check's reason, never a crash
                return Observation.failed(scrub(f"ping failed: {describe_error(err)}", url), **values)
            values["workers"] = workers
            if workers < least:
                problems.append(
                    f"{plural(workers, 'worker')} answered ping within {format_duration(check.ping_window)}, "
                    f"expected at least {least}"
                )
        for name, count in depths.items():
            problem = depth_problem(name, count, check.expect.queue_max)
            if problem:
                problems.append(problem)
        return Observation(not problems, "; ".join(problems) or None, values)

    async def _ping(self, check: CeleryCheck) -> int:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(PING_THREADS, thread_name_prefix="vigil-celery-ping")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, _ping, check.celery, check.ping_window, check.timeout
        )

    async def close(self) -> None:
        if self._threads is not None:
            # A ping still waiting for answers ends with its window; nothing waits for it.
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None


async def _amqp_depths(check: CeleryCheck) -> Depths:
    broker = await read_queues(check.celery, check.queues)
    return {name: counts.messages for name, counts in broker.found.items()}, broker.missing


async def _redis_depths(check: CeleryCheck) -> Depths:
    import redis.asyncio
    import redis.exceptions

    from vigil.probes.redis import KIND as REDIS

    reached = await REDIS.factory().observe(
        REDIS.config.model_validate({"redis": check.celery, "timeout": check.timeout})
    )
    if not reached.ok:
        raise ProbeError(reached.reason or "did not answer PING")
    if not check.queues:
        return {}, []
    # A queue Celery has never used has no list at all: on Redis that reads as empty, not missing.
    client = redis.asyncio.from_url(check.celery, socket_timeout=check.timeout, protocol=2)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for name in check.queues:
                for key in _priority_keys(name):
                    pipe.llen(key)
            lengths: list[Any] = await pipe.execute()
    except redis.exceptions.RedisError as err:  # e.g. WRONGTYPE: the key is not a list
        raise ProbeError(f"queue lengths unreadable: {first_line(err)}") from None
    finally:
        await client.aclose()
    per_queue = 1 + len(PRIORITY_STEPS)
    depths = {
        name: sum(int(n) for n in lengths[i * per_queue : (i + 1) * per_queue])
        for i, name in enumerate(check.queues)
    }
    return depths, []


def _priority_keys(queue: str) -> Sequence[str]:
    return [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]


def _ping(url: str, window: float, timeout: float) -> int:
    """How many workers answer a broadcast ping within ``window`` seconds (blocking)."""
    from celery import Celery

    app = Celery("vigil", broker=url, set_as_current=False)
    app.conf.broker_connection_timeout = timeout
    if url.split("://", 1)[0].lower() in REDIS_SCHEMES:
        # Closing waits for the reply queue's last BRPOP, which Kombu makes 1s long by default;
        # 100ms keeps a ping near its window (fractional BRPOP timeouts need Redis 6 or later).
        app.conf.broker_transport_options = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "polling_interval": 0.1,
        }
    else:
        app.conf.broker_transport_options = {"read_timeout": timeout, "write_timeout": timeout}
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)  # retrying is the engine's job
            replies = app.control.ping(timeout=window, connection=connection)
    finally:
        app.close()
    return sum(len(reply) for reply in replies)  # each reply is {worker name: {"ok": "pong"}}


KIND = ProbeKind("celery", CeleryCheck, CeleryProbe, loads=("celery", "redis.asyncio", "aiormq"))
