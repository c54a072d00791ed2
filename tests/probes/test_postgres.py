"""The ``postgres`` probe against real servers, in what only it does (the rest is in
``test_databases``): the shared one (trust auth) and a scratch one that demands a password."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.probes import conftest
from vigil.probes.base import Observation
from vigil.probes.postgres import KIND

PASSWORD = "correct-horse-battery"


async def observe(**fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it, on the shared server by default."""
    return await conftest.observe(KIND, **fields)


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


async def test_a_text_answer_is_not_kept_as_a_value() -> None:
    observation = await observe(query="SELECT current_user")

    assert observation.ok
    assert "value" not in observation.values


async def test_a_query_without_expectation_that_returns_no_rows_passes() -> None:
    assert (await observe(query="SELECT 1 WHERE false")).ok


async def test_the_right_password_passes_on_a_server_that_demands_one(password_postgres: str) -> None:
    observation = await observe(postgres=password_postgres, query="SELECT 1", expect={"value": 1})

    assert observation.ok, observation.reason


async def test_a_wrong_password_fails_without_showing_it(password_postgres: str) -> None:
    url = password_postgres.replace(PASSWORD, "Wr0ng-Secret")

    observation = await observe(postgres=url)

    assert observation.reason == 'password authentication failed for user "vigil"'
    assert "Wr0ng-Secret" not in observation.reason
