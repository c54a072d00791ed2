"""The ``redis`` probe against real servers: the shared one and scratch ones that demand a password
or get stopped and restarted (a closed port and a silent socket are in ``test_databases``)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio

from tests.conftest import free_port
from tests.probes import conftest
from vigil.probes.base import Observation
from vigil.probes.redis import KIND, RedisProbe

PASSWORD = "correct-horse-battery"


class ScratchRedis:
    """A private redis-server on its own port, so tests may stop it without touching the shared one."""

    def __init__(self, password: str | None = None, *settings: str) -> None:
        self.port = free_port()
        self.password = password
        self.settings = settings
        self.dir = tempfile.mkdtemp(prefix="vigil-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        args += ["--save", "", "--appendonly", "no", *self.settings]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"scratch redis-server exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        pytest.fail(f"scratch redis-server did not listen on port {self.port} within 5s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def running(server: ScratchRedis) -> Iterator[ScratchRedis]:
    """``server``, started, and removed once the test (or module) is done with it."""
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def password_redis() -> Iterator[ScratchRedis]:
    yield from running(ScratchRedis(PASSWORD))


@pytest.fixture
def stoppable_redis() -> Iterator[ScratchRedis]:
    yield from running(ScratchRedis())


@pytest.fixture(scope="module")
def small_redis() -> Iterator[ScratchRedis]:
    """A private server under a 4 MiB maxmemory that evicts: the shared one's config is never changed."""
    yield from running(ScratchRedis(None, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"))


async def observe(probe: RedisProbe | None = None, **fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it, on the shared server by default."""
    return await conftest.observe(KIND, probe, **fields)


async def test_a_healthy_server_passes_with_the_ping_time() -> None:
    observation = await observe()

    assert observation.ok, observation.reason
    assert set(observation.values) == {"ping_ms"}
    assert observation.values["ping_ms"] > 0


async def test_watched_info_fields_within_bounds_pass_and_are_kept() -> None:
    observation = await observe(
        expect={"info": {"connected_clients": {"min": 1, "max": 100_000}, "used_memory": {"min": 1}}}
    )

    assert observation.ok, observation.reason
    assert set(observation.values) == {"ping_ms", "connected_clients", "used_memory"}
    assert observation.values["connected_clients"] >= 1


async def test_an_info_field_out_of_bounds_fails_with_its_value_and_the_bound() -> None:
    observation = await observe(
        expect={"info": {"used_memory": {"max": 1000}, "connected_clients": {"min": 1}}}
    )

    assert not observation.ok
    assert re.fullmatch(r"info used_memory \S+ > max 1000", observation.reason or ""), observation.reason
    assert observation.values["used_memory"] > 1000


async def test_every_field_out_of_bounds_is_named_in_one_line() -> None:
    observation = await observe(expect={"info": {"used_memory": {"max": 1}, "connected_clients": {"max": 0}}})

    reason = observation.reason or ""
    assert "info used_memory" in reason
    assert "info connected_clients" in reason
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("used_memroy", r"info used_memroy not in INFO \(did you mean used_memory\?\)"),
        ("vigil_no_such_field_at_all", "info vigil_no_such_field_at_all not in INFO"),
        ("redis_version", r"info redis_version is '[\d.]+', not a number"),
    ],
)
async def test_an_info_field_that_cannot_be_judged_fails_naming_it(field: str, reason: str) -> None:
    observation = await observe(expect={"info": {field: {"max": 1}}})

    assert not observation.ok
    assert re.fullmatch(reason, observation.reason or ""), observation.reason


async def test_a_keyspace_field_is_reached_with_a_dot(password_redis: ScratchRedis) -> None:
    client = redis.asyncio.from_url(password_redis.url)
    try:
        await client.set("vigil:probe", "1")
        observation = await observe(redis=password_redis.url, expect={"info": {"db0.keys": {"min": 1}}})
    finally:
        await client.aclose()

    assert observation.ok, observation.reason
    assert observation.values["db0.keys"] >= 1


async def test_the_right_password_passes(password_redis: ScratchRedis) -> None:
    assert (await observe(redis=password_redis.url)).ok


async def test_a_wrong_password_fails_without_showing_it(password_redis: ScratchRedis) -> None:
    url = password_redis.url.replace(PASSWORD, "Wr0ng-Secret")

    observation = await observe(redis=url)

    assert observation.reason == "authentication failed"
    assert "Wr0ng-Secret" not in observation.reason


async def test_a_password_the_server_does_not_ask_for_fails_saying_it_has_none() -> None:
    observation = await observe(redis="redis://:Wr0ng-Secret@127.0.0.1:6379/0")

    assert observation.reason == "authentication failed: a password was given but the server has none set"


async def test_a_missing_password_fails_saying_one_is_required(password_redis: ScratchRedis) -> None:
    observation = await observe(redis=f"redis://127.0.0.1:{password_redis.port}/0")

    assert observation.reason == "authentication required: no password in the URL"


async def test_a_database_the_server_does_not_have_fails_with_its_error(password_redis: ScratchRedis) -> None:
    observation = await observe(redis=password_redis.url.replace("/0", "/999"))

    assert observation.reason == "redis error: DB index is out of range"


async def test_a_stopped_server_is_seen_and_a_restarted_one_recovers(stoppable_redis: ScratchRedis) -> None:
    probe = RedisProbe()
    try:
        assert (await observe(probe, redis=stoppable_redis.url)).ok

        stoppable_redis.stop()
        down = await observe(probe, redis=stoppable_redis.url)
        stoppable_redis.start()
        back = await observe(probe, redis=stoppable_redis.url)
    finally:
        await probe.close()

    assert down.reason == f"connection refused (127.0.0.1:{stoppable_redis.port})"
    assert back.ok, back.reason


async def test_a_malformed_url_is_refused_with_the_schemes_accepted() -> None:
    observation = await observe(redis="http://127.0.0.1:6379")

    assert observation.reason is not None
    assert "redis://" in observation.reason


async def test_stats_give_memory_against_maxmemory_and_the_keys_evicted_to_stay_under_it(
    small_redis: ScratchRedis,
) -> None:
    async with redis.asyncio.from_url(small_redis.url) as client:
        await client.config_resetstat()
        for i in range(60):  # 6 MB of values into 4 MB
            await client.set(f"fill:{i}", b"x" * 100_000)

    observation = await observe(redis=small_redis.url, stats=True)

    assert observation.ok, observation.reason
    values = observation.values
    assert values["memory_max_bytes"] == 4 * 2**20
    assert 0.5 < values["memory_used_ratio"] <= 1.05
    assert values["memory_used_ratio"] == values["memory_used_bytes"] / values["memory_max_bytes"]
    assert values["evicted_keys"] >= 10
    assert values["connected_clients"] == 1  # the check's own connection, the only one


async def test_the_hit_ratio_counts_lookups_that_found_their_key(small_redis: ScratchRedis) -> None:
    async with redis.asyncio.from_url(small_redis.url) as client:
        await client.set("hit", "1")
        await client.config_resetstat()
        for key in ("hit", "hit", "hit", "miss"):
            await client.get(key)

    observation = await observe(redis=small_redis.url, stats=True)

    assert observation.values["keyspace_hit_ratio"] == 0.75


async def test_without_maxmemory_there_is_no_used_ratio(stoppable_redis: ScratchRedis) -> None:
    observation = await observe(redis=stoppable_redis.url, stats=True)

    assert observation.ok, observation.reason
    assert observation.values["memory_max_bytes"] == 0
    assert "memory_used_ratio" not in observation.values
    assert "keyspace_hit_ratio" not in observation.values  # nothing was looked up yet


async def test_named_lists_give_their_length_and_a_missing_one_is_empty(small_redis: ScratchRedis) -> None:
    async with redis.asyncio.from_url(small_redis.url) as client:
        await client.delete("queue:a")
        await client.rpush("queue:a", "1", "2", "3")

    observation = await observe(redis=small_redis.url, lists=["queue:a", "queue:none"])

    assert observation.ok, observation.reason
    assert observation.values == {
        "ping_ms": observation.values["ping_ms"],
        "list_length.queue:a": 3.0,
        "list_length.queue:none": 0.0,
    }


async def test_a_named_list_that_is_not_a_list_fails_naming_it_and_keeps_the_others(
    small_redis: ScratchRedis,
) -> None:
    async with redis.asyncio.from_url(small_redis.url) as client:
        await client.set("counter", "5")
        await client.delete("jobs")
        await client.rpush("jobs", "1")

    observation = await observe(redis=small_redis.url, lists=["counter", "jobs"], stats=True)

    assert not observation.ok
    assert observation.reason == "key 'counter' is not a list"
    assert observation.values["list_length.jobs"] == 1.0
    assert "memory_used_bytes" in observation.values


def test_more_lists_than_the_bound_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 100"):
        KIND.config.model_validate({"redis": "redis://h", "lists": [f"q{i}" for i in range(101)]})
