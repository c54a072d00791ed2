"""``vigil up`` for a benchmark: a separate process on a free port and a fresh SQLite store in a
work folder, ready, with a responder token; stopped afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.dashboard_load import free_port, wait_ready

VIGIL = str(Path(sys.executable).parent / "vigil")


@contextlib.contextmanager
def vigil_up(stack: Path, work: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Run ``vigil up -c stack`` with its store and log in ``work``; yields its URL and the
    headers of a responder."""
    db = f"sqlite:///{work}/vigil.db"
    url = f"http://127.0.0.1:{(port := free_port())}"
    with (work / "vigil.log").open("w") as log:
        vigil = subprocess.Popen(
            [VIGIL, "up", "-c", str(stack), "--db", db, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_ready(url, vigil, 120)  # a few thousand checks start slowly on a loaded machine
            made = subprocess.run(
                [VIGIL, "token", "create", "--role", "responder", "--name", "bench", "--db", db, "--json"],
                capture_output=True,
                text=True,
                check=True,
            )
            yield url, {"Authorization": f"Bearer {json.loads(made.stdout)['token']}"}
        finally:
            vigil.terminate()
            vigil.wait(timeout=30)
