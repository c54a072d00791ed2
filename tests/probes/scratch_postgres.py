"""A private PostgreSQL cluster for one test module: its own settings (a password, a small
``max_connections``) without touching the shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

USER = "vigil"


def pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        pytest.fail(f"{name} is neither on PATH nor in /usr/lib/postgresql/*/bin: no scratch server")
    return found


class _Place:
    """A folder for one scratch cluster, owned by ``postgres`` when the tests run as root
    (PostgreSQL refuses to run as root), and how to run its tools as that owner."""

    def __init__(self, password: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        if password is not None:
            (self.root / "pw").write_text(password + "\n")
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            for file in self.root.iterdir():
                shutil.chown(file, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.root / "data", free_port()

    def run(self, *args: str | Path) -> None:
        done = subprocess.run([*self.as_owner, *map(str, args)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"scratch PostgreSQL: {args[0]} failed:\n{done.stdout}{done.stderr}")

    def start(self, settings: tuple[str, ...]) -> None:
        options = " ".join(
            [
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                *(f"-c {s}" for s in settings),
            ]
        )
        self.run(
            pg_tool("pg_ctl"),
            "-D",
            self.data,
            "-l",
            self.root / "log",
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_owner, pg_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def scratch_cluster(*settings: str, password: str | None = None) -> Iterator[str]:
    """Start a cluster (superuser ``vigil``; SCRAM when ``password`` is given, else trust) with
    ``settings`` like ``"max_connections=10"``; yields its URL and removes it afterwards."""
    place = _Place(password)
    auth = ["--auth=trust"] if password is None else ["--pwfile", str(place.root / "pw"), "-Ascram-sha-256"]
    try:
        # -N: no fsync, this cluster lives for one test module.
        place.run(pg_tool("initdb"), "-D", place.data, "-U", USER, *auth, "-N")
        place.start(settings)
        credentials = f"{USER}:{password}" if password is not None else USER
        yield f"postgresql://{credentials}@127.0.0.1:{place.port}/postgres"
    finally:
        place.remove()


@contextlib.contextmanager
def scratch_standby(primary_port: int, *settings: str) -> Iterator[str]:
    """A streaming standby of the trust-auth scratch cluster on ``primary_port``: a base backup
    with ``-R`` (its ``primary_conninfo`` and ``standby.signal`` written), started on a port of its
    own; yields its URL and removes it afterwards."""
    place = _Place()
    try:
        place.run(
            pg_tool("pg_basebackup"), "-D", place.data, "-R", "-X", "stream", "-c", "fast",
            "-h", "127.0.0.1", "-p", str(primary_port), "-U", USER,
        )  # fmt: skip
        place.start(settings)
        yield f"postgresql://{USER}@127.0.0.1:{place.port}/postgres"
    finally:
        place.remove()
