"""The guard against testing or running an old compiled module in place of its edited source."""

from __future__ import annotations

import os
from pathlib import Path

from vigil.metrics.compiled import compiled, stale


def test_a_source_edited_after_its_build_is_found(tmp_path: Path) -> None:
    package = tmp_path / "promql"
    package.mkdir()
    for name in ("fresh", "edited"):
        (package / f"{name}.py").write_text("x = 1\n")
        (package / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (package / "plain.py").write_text("x = 1\n")  # never compiled: not a concern
    os.utime(package / "edited.cpython-311-x86_64-linux-gnu.so", (1_000_000, 1_000_000))
    os.utime(package / "fresh.py", (1_000_000, 1_000_000))
    assert stale(tmp_path) == [package / "edited.py"]


def test_the_run_uses_the_modules_it_was_started_for() -> None:
    # `make test` runs the suite compiled, then the evaluator's tests as plain Python.
    expected = os.environ.get("VIGIL_EXPECT_COMPILED", "1" if compiled() else "0")
    built = "the compiled modules (see .venv/mypyc.log)" if expected == "1" else "plain Python"
    assert compiled() is (expected == "1"), f"this run should use {built}"
