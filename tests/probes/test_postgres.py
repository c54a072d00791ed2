"""The ``postgres`` probe against real servers: the shared one (trust auth), a scratch one that
demands a password, a closed port and a socket that accepts but never answers."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec, ProbeSet
from vigil.probes.base import Observation
from vigil.probes.postgres import PostgresCheck, PostgresProbe

SHARED = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def observe(**fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it."""
    fields.setdefault("postgres", SHARED)
    probe = PostgresProbe()
    try:
        return await probe.observe(PostgresCheck.model_validate(fields))
    finally:
        await probe.close()


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        pytest.fail(f"{name} is neither on PATH nor in /usr/lib/postgresql/*/bin: no scratch server")
    return found


@pytest.fixture(scope="module")
def password_postgres() -> Iterator[str]:
    """A scratch PostgreSQL that demands a SCRAM password (the shared one trusts everyone)."""
    root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    (root / "pw").write_text(PASSWORD + "\n")
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def run(*args: str | Path) -> None:
        done = subprocess.run([*as_owner, *map(str, args)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"scratch PostgreSQL: {args[0]} failed:\n{done.stdout}{done.stderr}")

    try:
        # -N: no fsync, this cluster lives for one test module.
        run(_pg_tool("initdb"), "-D", data, "-U", "vigil", "--pwfile", root / "pw", "-Ascram-sha-256", "-N")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(_pg_tool("pg_ctl"), "-D", data, "-l", root / "log", "-o", options, "-w", "-t", "30", "start")
        yield f"postgresql://vigil:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_owner, _pg_tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


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
    assert observation.reason is None
    assert set(observation.values) == {"connect_ms", "query_ms"}
    assert all(ms > 0 for ms in observation.values.values())


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("SELECT 5", {"value": 5}),
        ("SELECT 5::numeric(6, 2)", {"value": 5}),
        ("SELECT 5::bigint", {"value": "5"}),
        ("SELECT 0.1::float8", {"value": 0.1}),
        ("SELECT 0.1::float4", {"value": 0.1}),
        ("SELECT true", {"value": "t"}),
        ("SELECT true", {"value": True}),
        ("SELECT false", {"value": "no"}),
        ("SELECT 'primary'", {"value": "primary"}),
        ("SELECT NULL", {"value": None}),
        ("SELECT 42", {"range": {"min": 10, "max": 50}}),
        ("SELECT '42'::text", {"range": {"max": 42}}),
        ("SELECT count(*) FROM pg_stat_activity", {}),
    ],
)
async def test_a_query_whose_answer_meets_the_expectation_passes(query: str, expect: dict[str, Any]) -> None:
    observation = await observe(query=query, expect=expect)

    assert observation.ok, observation.reason


@pytest.mark.parametrize(
    ("query", "expect", "reason"),
    [
        ("SELECT 3", {"value": 5}, "query returned 3, expected 5"),
        ("SELECT 3.50::numeric", {"value": 3.5, "range": {"max": 3}}, "query returned 3.5 > max 3"),
        ("SELECT 12", {"range": {"max": 10}}, "query returned 12 > max 10"),
        ("SELECT 2", {"range": {"min": 3}}, "query returned 2 < min 3"),
        ("SELECT 'replica'", {"value": "primary"}, "query returned 'replica', expected 'primary'"),
        ("SELECT '7'::text", {"value": "007"}, "query returned '7', expected '007'"),
        ("SELECT false", {"value": True}, "query returned false, expected true"),
        ("SELECT NULL::int", {"value": 0}, "query returned NULL, expected 0"),
        ("SELECT 'idle'", {"range": {"max": 1}}, "query returned 'idle', not a number"),
        ("SELECT 1 WHERE false", {"value": 1}, "query returned no rows"),
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
    observation = await observe(query="SELECT 41.5::numeric")

    assert observation.ok
    assert observation.values["value"] == 41.5


async def test_a_text_answer_is_not_kept_as_a_value() -> None:
    observation = await observe(query="SELECT current_user")

    assert observation.ok
    assert "value" not in observation.values


async def test_a_query_without_expectation_that_returns_no_rows_passes() -> None:
    assert (await observe(query="SELECT 1 WHERE false")).ok


async def test_a_failing_query_says_what_the_server_said() -> None:
    observation = await observe(query="SELECT * FROM vigil_no_such_table")

    assert not observation.ok
    assert observation.reason == 'query failed: relation "vigil_no_such_table" does not exist'
    assert "connect_ms" in observation.values


async def test_an_unknown_database_fails_naming_it() -> None:
    observation = await observe(postgres="postgresql://postgres@127.0.0.1:5432/vigil_nope")

    assert observation.reason == 'database "vigil_nope" does not exist'


async def test_a_closed_port_fails_as_connection_refused_with_the_address() -> None:
    port = free_port()

    observation = await observe(postgres=f"postgresql://postgres@127.0.0.1:{port}/test")

    assert observation.reason == f"connection refused (127.0.0.1:{port})"


async def test_the_right_password_passes_on_a_server_that_demands_one(password_postgres: str) -> None:
    observation = await observe(postgres=password_postgres, query="SELECT 1", expect={"value": 1})

    assert observation.ok, observation.reason


async def test_a_wrong_password_fails_without_showing_it(password_postgres: str) -> None:
    url = password_postgres.replace(PASSWORD, "Wr0ng-Secret")

    observation = await observe(postgres=url)

    assert observation.reason == 'password authentication failed for user "vigil"'
    assert "Wr0ng-Secret" not in observation.reason


async def test_a_server_that_never_answers_times_out_within_the_check_timeout(silent_port: int) -> None:
    check = PostgresCheck.model_validate(
        {"postgres": f"postgresql://postgres:pw-123@127.0.0.1:{silent_port}/test", "timeout": "300ms"}
    )
    probes = ProbeSet()
    try:
        result = await CheckRunner(probes).run(CheckSpec("db", "primary", check))
    finally:
        await probes.aclose()

    assert not result.ok
    assert result.reason == "timed out after 300ms"
    assert result.duration_ms < 1000


def test_an_expectation_without_a_query_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="no query is given"):
        PostgresCheck.model_validate({"postgres": SHARED, "expect": {"value": 1}})
