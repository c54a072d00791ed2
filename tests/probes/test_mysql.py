"""The ``mysql`` probe against the real MariaDB server: what only it does (the rest is in
``test_databases``), and how it reads a connection URL."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pytest

from tests.probes import conftest
from vigil.errors import ProbeError
from vigil.probes.base import Observation
from vigil.probes.mysql import KIND, connect_args

PASSWORD = "correct-horse-battery"


async def observe(**fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it, on the shared server by default."""
    return await conftest.observe(KIND, **fields)


async def as_root(*statements: str) -> None:
    conn = await aiomysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        async with conn.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        await conn.ensure_closed()


@pytest.fixture
async def user_with_password() -> AsyncIterator[str]:
    """A throwaway MariaDB account with a password, dropped afterwards; yields its name."""
    name = f"vigil_{secrets.token_hex(4)}"
    await as_root(
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{PASSWORD}'",
        f"GRANT SELECT ON test.* TO '{name}'@'%'",
    )
    try:
        yield name
    finally:
        await as_root(f"DROP USER IF EXISTS '{name}'@'%'")


async def test_a_mariadb_url_is_accepted_too() -> None:
    assert (await observe(mysql="mariadb://root@127.0.0.1:3306/test")).ok


async def test_the_right_password_passes(user_with_password: str) -> None:
    observation = await observe(mysql=f"mysql://{user_with_password}:{PASSWORD}@127.0.0.1:3306/test")

    assert observation.ok, observation.reason


async def test_a_wrong_password_fails_without_showing_it(user_with_password: str) -> None:
    observation = await observe(mysql=f"mysql://{user_with_password}:Wr0ng-Secret@127.0.0.1:3306/test")

    assert observation.reason is not None
    assert observation.reason.startswith(f"Access denied for user '{user_with_password}'@")
    assert "Wr0ng-Secret" not in observation.reason


def test_a_url_gives_host_port_user_password_and_database() -> None:
    args = connect_args("mysql://app%40ops:p%2Fss@db.internal:3307/orders")

    assert args == {
        "host": "db.internal",
        "port": 3307,
        "user": "app@ops",
        "password": "p/ss",
        "db": "orders",
    }


def test_a_bare_url_defaults_to_localhost_3306_and_no_database() -> None:
    assert connect_args("mariadb://root@localhost") | {"user": None} == {
        "host": "localhost",
        "port": 3306,
        "user": None,
        "password": "",
        "db": None,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://root@127.0.0.1/test", "not a mysql:// or mariadb:// URL"),
        ("mysql://root@127.0.0.1/test?ssl=1", "options after ? in a mysql URL are not supported"),
        ("mysql://root:pw-123@127.0.0.1:x/test", "the port in the mysql URL is not a number"),
    ],
)
def test_a_url_the_probe_cannot_use_is_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ProbeError, match=re.escape(message)):
        connect_args(url)


@pytest.fixture
async def scratch_database() -> AsyncIterator[str]:
    """A throwaway database with one InnoDB table of a few rows, dropped afterwards; yields its URL."""
    name = f"vigil_{secrets.token_hex(4)}"
    await as_root(
        f"CREATE DATABASE {name}",
        f"CREATE TABLE {name}.jobs (id INT PRIMARY KEY, state VARCHAR(20)) ENGINE=InnoDB",
        f"INSERT INTO {name}.jobs VALUES (1, 'new'), (2, 'new')",
    )
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        await as_root(f"DROP DATABASE IF EXISTS {name}")


async def connect(url: str) -> aiomysql.Connection:
    return await aiomysql.connect(**connect_args(url), autocommit=True)


async def test_stats_count_held_connections_against_max_connections(scratch_database: str) -> None:
    held = [await connect(scratch_database) for _ in range(5)]
    try:
        observation = await observe(mysql=scratch_database, stats=True)
    finally:
        for conn in held:
            conn.close()

    assert observation.ok, observation.reason
    values = observation.values
    assert values["connections_used"] >= 5  # the shared server may serve others meanwhile
    assert values["connections_used_ratio"] == values["connections_used"] / values["connections_max"]
    assert values["database_size_bytes"] > 0
    assert 0 < values["buffer_pool_hit_ratio"] <= 1


async def test_stats_see_a_transaction_blocking_another_and_how_long_each_has_run(
    scratch_database: str,
) -> None:
    holder, waiter = await connect(scratch_database), await connect(scratch_database)
    try:
        async with holder.cursor() as cursor:
            await cursor.execute("BEGIN")
            await cursor.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        async with waiter.cursor() as cursor:
            await cursor.execute("SET SESSION innodb_lock_wait_timeout = 10")
        waiting = asyncio.create_task(_update(waiter))
        await asyncio.sleep(1.2)  # the process list counts whole seconds
        observation = await observe(mysql=scratch_database, stats=True)
        await holder.rollback()
        await waiting
    finally:
        holder.close()
        waiter.close()

    values = observation.values
    assert values["blocked_transactions"] >= 1
    assert values["longest_transaction_seconds"] >= 1
    assert values["longest_query_seconds"] >= 1  # the UPDATE waiting for the lock


async def _update(conn: aiomysql.Connection) -> None:
    async with conn.cursor() as cursor:
        await cursor.execute("UPDATE jobs SET state = 'taken' WHERE id = 1")


async def test_without_a_database_in_the_url_there_is_no_size() -> None:
    observation = await observe(mysql="mysql://root@127.0.0.1:3306/", stats=True)

    assert observation.ok, observation.reason
    assert "database_size_bytes" not in observation.values
    assert "connections_max" in observation.values


async def test_the_longest_query_is_measured_below_a_second_on_mariadb() -> None:
    sleeper = await connect("mysql://root@127.0.0.1:3306/test")
    try:
        sleeping = asyncio.create_task(_sleep(sleeper, 30))
        await asyncio.sleep(0.6)
        observation = await observe(mysql="mysql://root@127.0.0.1:3306/test", stats=True)
    finally:
        await as_root(f"KILL QUERY {sleeper.thread_id()}")  # this test's own statement, no other
        (stopped,) = await asyncio.gather(sleeping, return_exceptions=True)
        sleeper.close()
    assert isinstance(stopped, aiomysql.OperationalError) and stopped.args[0] == 1317  # interrupted

    assert observation.ok, observation.reason
    longest = observation.values["longest_query_seconds"]
    # Others' statements on the shared server may be older: at least this one's age, to the millisecond.
    assert longest >= 0.6
    assert longest != int(longest)


async def _sleep(conn: aiomysql.Connection, seconds: float) -> None:
    async with conn.cursor() as cursor:
        await cursor.execute(f"SELECT SLEEP({seconds})")
