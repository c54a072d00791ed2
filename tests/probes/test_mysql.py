"""The ``mysql`` probe against the real MariaDB server, a closed port and a silent socket."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pytest

from vigil.engine.runner import CheckRunner, CheckSpec, ProbeSet
from vigil.errors import ProbeError
from vigil.probes.base import Observation
from vigil.probes.mysql import MysqlCheck, MysqlProbe, connect_args

SHARED = "mysql://root@127.0.0.1:3306/test"
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def observe(**fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it."""
    fields.setdefault("mysql", SHARED)
    probe = MysqlProbe()
    try:
        return await probe.observe(MysqlCheck.model_validate(fields))
    finally:
        await probe.close()


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


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_healthy_server_passes_with_connect_and_query_times() -> None:
    observation = await observe()

    assert observation.ok, observation.reason
    assert set(observation.values) == {"connect_ms", "query_ms"}
    assert all(ms > 0 for ms in observation.values.values())


async def test_a_mariadb_url_is_accepted_too() -> None:
    assert (await observe(mysql="mariadb://root@127.0.0.1:3306/test")).ok


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("SELECT 5", {"value": 5}),
        ("SELECT 5.00", {"value": 5}),
        ("SELECT SUM(2)", {"value": "2"}),
        ("SELECT 2.5e0", {"value": 2.5}),
        ("SELECT TRUE", {"value": True}),
        ("SELECT 1 = 1", {"value": "t"}),
        ("SELECT 'primary'", {"value": "primary"}),
        ("SELECT NULL", {"value": None}),
        ("SELECT 42", {"range": {"min": 10, "max": 50}}),
        ("SELECT @@version", {}),
    ],
)
async def test_a_query_whose_answer_meets_the_expectation_passes(query: str, expect: dict[str, Any]) -> None:
    observation = await observe(query=query, expect=expect)

    assert observation.ok, observation.reason


@pytest.mark.parametrize(
    ("query", "expect", "reason"),
    [
        ("SELECT 3", {"value": 5}, "query returned 3, expected 5"),
        ("SELECT 12", {"range": {"max": 10}}, "query returned 12 > max 10"),
        ("SELECT 'replica'", {"value": "primary"}, "query returned 'replica', expected 'primary'"),
        ("SELECT FALSE", {"value": True}, "query returned 0, expected true"),
        ("SELECT 'idle'", {"range": {"min": 1}}, "query returned 'idle', not a number"),
        ("SELECT 1 FROM DUAL WHERE 1 = 0", {"value": 1}, "query returned no rows"),
    ],
)
async def test_a_query_whose_answer_misses_the_expectation_fails_saying_what_came_back(
    query: str, expect: dict[str, Any], reason: str
) -> None:
    observation = await observe(query=query, expect=expect)

    assert not observation.ok
    assert observation.reason == reason
    assert {"connect_ms", "query_ms"} <= set(observation.values)


async def test_a_numeric_answer_is_kept_as_the_value() -> None:
    observation = await observe(query="SELECT 41.50")

    assert observation.values["value"] == 41.5


async def test_a_failing_query_says_what_the_server_said() -> None:
    observation = await observe(query="SELECT * FROM vigil_no_such_table")

    assert observation.reason == "query failed: Table 'test.vigil_no_such_table' doesn't exist"


async def test_an_unknown_database_fails_naming_it() -> None:
    observation = await observe(mysql="mysql://root@127.0.0.1:3306/vigil_nope")

    assert observation.reason == "Unknown database 'vigil_nope'"


async def test_a_closed_port_fails_as_connection_refused_with_the_address() -> None:
    port = free_port()

    observation = await observe(mysql=f"mysql://root@127.0.0.1:{port}/test")

    assert observation.reason == f"connection refused (127.0.0.1:{port})"


async def test_the_right_password_passes(user_with_password: str) -> None:
    observation = await observe(mysql=f"mysql://{user_with_password}:{PASSWORD}@127.0.0.1:3306/test")

    assert observation.ok, observation.reason


async def test_a_wrong_password_fails_without_showing_it(user_with_password: str) -> None:
    observation = await observe(mysql=f"mysql://{user_with_password}:Wr0ng-Secret@127.0.0.1:3306/test")

    assert observation.reason is not None
    assert observation.reason.startswith(f"Access denied for user '{user_with_password}'@")
    assert "Wr0ng-Secret" not in observation.reason


async def test_a_server_that_never_answers_times_out_within_the_check_timeout(silent_port: int) -> None:
    check = MysqlCheck.model_validate(
        {"mysql": f"mysql://root:pw-123@127.0.0.1:{silent_port}/test", "timeout": "300ms"}
    )
    probes = ProbeSet()
    try:
        result = await CheckRunner(probes).run(CheckSpec("db", "replica", check))
    finally:
        await probes.aclose()

    assert result.reason == "timed out after 300ms"
    assert result.duration_ms < 1000


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
