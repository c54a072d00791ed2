"""A quick command loads only what its work needs: ``vigil validate`` neither the server nor the
probes' network clients nor the channels, an incident command not the server or the channels.
Each of those costs a responder a noticeable part of a second, on every command (bench/cli_start.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_incident import STACK, _make_store
from vigil import __version__

ROOT = Path(__file__).resolve().parents[2]
# Runs the command as `vigil` does, then names the packages it loaded.
LOADED = """
import json, runpy, sys
sys.argv = ["vigil", *sys.argv[1:]]
try:
    runpy.run_module("vigil.cli", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
print(json.dumps({"exit": code, "loaded": sorted({name.split(".")[0] for name in sys.modules})}))
"""
SERVER_AND_CHANNELS = {"fastapi", "uvicorn", "starlette", "apprise", "aiohttp"}


def loaded(*args: str) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "USER": "ana"},
    )
    *printed, last = done.stdout.strip().splitlines()
    report = json.loads(last)
    return report["exit"], set(report["loaded"]), "\n".join(printed) + done.stderr


def test_validate_loads_neither_the_server_nor_network_clients_nor_the_store() -> None:
    code, packages, output = loaded("validate", "-c", str(ROOT / "examples" / "local.yaml"))
    assert code == 0, output
    assert "ok (4 services, 4 checks)" in output
    assert (
        packages
        & (SERVER_AND_CHANNELS | {"redis", "asyncpg", "aiomysql", "psutil", "sqlalchemy", "pymongo", "bson"})
        == set()
    )


def test_an_incident_command_loads_the_store_but_not_the_server_or_the_channels(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text(STACK)
    asyncio.run(_make_store(f"sqlite:///{tmp_path}/vigil.db"))
    store = ["-c", str(tmp_path / "vigil.yaml"), "--db", f"sqlite:///{tmp_path}/vigil.db"]
    code, packages, output = loaded("incident", "list", *store)
    assert code == 0, output
    assert "sqlalchemy" in packages  # it did reach the store
    assert packages & SERVER_AND_CHANNELS == set()


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_the_version_loads_no_command(args: list[str]) -> None:
    code, packages, output = loaded(*args)
    assert (code, output.strip()) == (0, __version__)
    assert packages & {"sqlalchemy", "yaml", *SERVER_AND_CHANNELS} == set()
