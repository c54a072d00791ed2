"""Fixtures shared across the suite: real local servers, started in milliseconds."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.metrics import compiled
from vigil.store.database import open_database

SHARED_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_sessionstart(session: pytest.Session) -> None:
    # An old compiled module would be tested in place of the edited source.
    if edited := compiled.stale():
        names = ", ".join(path.name for path in edited)
        pytest.exit(f"edited since compiled: {names}; run `make compiled` (or `make pure`)", returncode=2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the shared PostgreSQL server, dropped afterwards."""
    name = f"vigil_test_{secrets.token_hex(4)}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc"]
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        subprocess.run(
            [*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], capture_output=True, check=False
        )


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Vigil's store, migrated, once on SQLite and once on a fresh PostgreSQL database."""
    url = (
        f"sqlite:///{tmp_path}/vigil.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    opened = await open_database(url)
    yield opened
    await opened.dispose()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word."""
    import asyncio

    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a real 1 MiB tmpfs mounted for the test, to fill up (root only: mounting is
    what needs it; a test that needs no full device runs for anyone)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
