"""The ``mysql`` probe against the real MariaDB server: what only it does (the rest is in
``test_databases``), and how it reads a connection URL."""

from __future__ import annotations

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
