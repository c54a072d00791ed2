"""Fixtures shared across the suite: real local servers, started in milliseconds."""

from __future__ import annotations

import secrets
import socket
import subprocess
from collections.abc import Iterator

import pytest

SHARED_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


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
