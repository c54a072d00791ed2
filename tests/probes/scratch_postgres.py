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


@contextlib.contextmanager
def scratch_cluster(*settings: str, password: str | None = None) -> Iterator[str]:
    """Start a cluster (superuser ``vigil``; SCRAM when ``password`` is given, else trust) with
    ``settings`` like ``"max_connections=10"``; yields its URL and removes it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    auth = ["--auth=trust"]
    if password is not None:
        (root / "pw").write_text(password + "\n")
        auth = ["--pwfile", str(root / "pw"), "-Ascram-sha-256"]
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        for file in root.iterdir():
            shutil.chown(file, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def run(*args: str | Path) -> None:
        done = subprocess.run([*as_owner, *map(str, args)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"scratch PostgreSQL: {args[0]} failed:\n{done.stdout}{done.stderr}")

    try:
        # -N: no fsync, this cluster lives for one test module.
        run(pg_tool("initdb"), "-D", data, "-U", USER, *auth, "-N")
        options = " ".join(
            [
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                *(f"-c {s}" for s in settings),
            ]
        )
        run(pg_tool("pg_ctl"), "-D", data, "-l", root / "log", "-o", options, "-w", "-t", "30", "start")
        credentials = f"{USER}:{password}" if password is not None else USER
        yield f"postgresql://{credentials}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_owner, pg_tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
