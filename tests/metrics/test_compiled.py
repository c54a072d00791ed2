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


def test_plain_python_tells_the_evaluators_node_types_apart() -> None:
    # Compiled, classes deriving from abc.ABC would share one cache of isinstance() answers: a
    # "yes" for a comparison node as a VectorNode would then answer "yes" as an Aggregate too.
    from vigil.metrics.promql.aggregate import Aggregate
    from vigil.metrics.promql.binary import VectorScalar
    from vigil.metrics.promql.evaluate import compile_expr
    from vigil.metrics.promql.model import ScalarNode, VectorNode
    from vigil.metrics.promql.sweep import arguments

    root = compile_expr("avg_over_time(q[10m]) > 100").root
    assert isinstance(root, VectorNode) and isinstance(root, VectorScalar)
    assert not isinstance(root, Aggregate) and not isinstance(root, ScalarNode)
    assert not issubclass(VectorScalar, Aggregate)
    assert [type(node).__name__ for node in arguments(root)] == ["RangeCall"]
