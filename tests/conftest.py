"""Fixtures shared across the suite: real local servers, started in milliseconds."""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.metrics import compiled
from vigil.store.database import open_database

# The suite starts hundreds of interpreters (``vigil up``, the shell's commands, the demo and its
# target): let each keep and reuse compiled bytecode (``__pycache__``, ignored by git) rather than
# compile Vigil's modules afresh, whatever the environment says. Set before xdist starts workers.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

SHARED_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_sessionstart(session: pytest.Session) -> None:
    # An old compiled module would be tested in place of the edited source.
    if edited := compiled.stale():
        names = ", ".join(path.name for path in edited)
        pytest.exit(f"edited since compiled: {names}; run `make compiled` (or `make pure`)", returncode=2)


def pytest_configure(config: pytest.Config) -> None:
    # xdist hands out files with the most tests first by default, which leaves the slowest (a
    # kill -9 loop, a model test: one or two tests each) for last; keep the order below instead.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that hold a slow test first, each file's tests in their order: with ``--dist
    loadfile`` a long file handed out last keeps one worker busy after the other has finished."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAtc"]


def psql(sql: str, database: str = "postgres", *, check: bool = True) -> None:
    subprocess.run([*PSQL, sql, "-d", database], check=check, capture_output=True)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the shared PostgreSQL server, dropped afterwards."""
    name = f"vigil_test_{secrets.token_hex(4)}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """A database that ``open_database`` migrated once per session (per xdist worker), from which
    each test's migrated database is copied: a copy takes a tenth of the migrations' time."""
    name = f"vigil_template_{secrets.token_hex(4)}"
    psql(f'CREATE DATABASE "{name}"')

    async def migrate() -> None:
        await (await open_database(f"postgresql://postgres@127.0.0.1:5432/{name}")).dispose()

    try:
        # In a thread of its own: an async test's loop may already be running here.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate()).result()
        yield name
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


@pytest.fixture
def migrated_postgres_url(migrated_postgres_template: str) -> Iterator[str]:
    """A fresh database on the shared server holding Vigil's migrated schema and a store identity
    of its own, as ``open_database`` leaves a new one; dropped afterwards."""
    name = f"vigil_test_{secrets.token_hex(4)}"
    psql(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_postgres_template}"')
    try:
        psql(f"UPDATE store_identity SET id = '{secrets.token_hex(6)}'", name)
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


_SQLITE_TEMPLATE: list[Path] = []


async def sqlite_store_url(path: Path) -> str:
    """The URL of the SQLite store at ``path``; made there when missing as ``open_database`` makes
    one (migrated, a store id of its own), by copying a store migrated once per test process."""
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="vigil-template-"))
        atexit.register(shutil.rmtree, folder, True)
        await (await open_database(f"sqlite:///{folder}/vigil.db")).dispose()
        _SQLITE_TEMPLATE.append(folder / "vigil.db")
    _copy_store(_SQLITE_TEMPLATE[0], path)
    return f"sqlite:///{path}"


def _copy_store(template: Path, path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE store_identity SET id = ?", (secrets.token_hex(6),))


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Vigil's store, opened (so migrated) once on SQLite and once on a fresh PostgreSQL database
    (a copy of one migrated at the session's start: ``tests/store/test_migrations.py`` migrates
    empty ones)."""
    url = (
        await sqlite_store_url(tmp_path / "vigil.db")
        if request.param == "sqlite"
        else request.getfixturevalue("migrated_postgres_url")
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
