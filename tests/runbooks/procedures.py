"""A runbook and stack file written for a test, and a runner over them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import load_stack
from vigil.runbooks.library import load_library
from vigil.runbooks.runner import ProcedureRunner


def write(tmp_path: Path, runbook: str, stack: Mapping[str, object] | None = None) -> Path:
    """``ops.md`` holding ``runbook`` (dedented) and ``vigil.yaml`` naming it; the stack file's path."""
    (tmp_path / "ops.md").write_text(textwrap.dedent(runbook))
    file = tmp_path / "vigil.yaml"
    file.write_text(yaml.safe_dump({"runbooks": ["ops.md"], **(stack or {})}))
    return file


def runner(
    tmp_path: Path,
    runbook: str,
    stack: Mapping[str, object] | None = None,
    *,
    engine: AsyncEngine | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProcedureRunner:
    environ = {"PATH": "/usr/local/bin:/usr/bin:/bin", **(environ or {})}
    loaded = load_stack(write(tmp_path, runbook, stack), environ)
    return ProcedureRunner(loaded, load_library(loaded), engine, environ=environ)
