"""The two real runbooks beside the project, when they are there."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
ECHO = SHARED / "echo-ai-runbook.md"
TEXTBOOK = SHARED / "textbook-rag-runbook.md"


def shared_runbook(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared runbooks are not beside this checkout")
    return path
