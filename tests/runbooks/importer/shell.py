"""Running ``vigil`` as a user does: a real process, this worktree's sources, and none of the
variables a draft refers to set, so that what validates here validates anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")
# Variables the drafts of the shared runbooks read; unset, the ${VAR:-default}s must carry them.
UNSET = ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "QDRANT_API_KEY", "TOKEN", "API_TOKEN", "VIGIL_CONFIG")


def vigil(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )
