"""Prometheus' own PromQL tests against Vigil's evaluator: pass, fail and refused per file.

    python bench/promql_conformance.py PATH [-v]

PATH is a Prometheus checkout (or its ``promql/testdata`` directory, or one ``.test`` file); use
the version of the oracle's Prometheus (``prometheus --version``). Each ``eval`` command of a file
is one case, run as ``promql/test.go`` runs it: the instant query at its time, and (unless
``eval_ordered``) the range query from a minute before to a minute after, one-minute steps, whose
point at that time must give the same answer; then, as test.go does, both again with ``@ <time>``
given to every selector and subquery that has none, at five other times (unless the expression
calls a function that reads the evaluation time). Values agree within test.go's relative 1e-6;
``eval_ordered`` also checks the order. A case is *refused* when Vigil declines the expression as
unsupported, *passes* when every check agrees (or, for ``eval_fail``, when Vigil reports an error)
and *fails* otherwise. ``-v`` prints each failure.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import GetSetDescriptorType, MemberDescriptorType

from bench.promql_testfile import Clear, Eval, Load, TestFileError, parse
from vigil.metrics.promql import PromQLError, compile_expr, evaluate
from vigil.metrics.promql.compiler import parse as parse_expr
from vigil.metrics.promql.evaluate import CompiledExpr
from vigil.metrics.promql.model import AT_FIXED, AT_NONE
from vigil.metrics.ranges import RangeSeries, evaluate_range
from vigil.metrics.store import SeriesStore

EPSILON = 1e-6
MIN_NORMAL = 2.2250738585072014e-308
REFUSALS = ("unsupported", "expression too complex")
# test.go's AtModifierUnsafeFunctions: their answers depend on the evaluation time itself.
_READS_TIME = re.compile(
    r"\b(?:days_in_month|day_of_month|day_of_week|day_of_year|hour|minute|month|year|predict_linear"
    r"|time|timestamp)\s*\("
)

Answer = float | dict[frozenset[tuple[str, str]], float] | list[tuple[frozenset[tuple[str, str]], float]]


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)


def almost_equal(a: float, b: float) -> bool:
    """test.go's ``almostEqual``."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < MIN_NORMAL:
        return diff < EPSILON * MIN_NORMAL
    return diff / (abs(a) + abs(b)) < EPSILON


def _key(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in labels.items() if v)


def _store(load: Load, store: SeriesStore) -> None:
    # A series defined twice keeps its last definition, as test.go's map of them does.
    last = {_key(labels): (labels, values) for labels, values in load.series}
    for labels, values in last.values():
        kept = [(i * load.step, v) for i, v in enumerate(values) if v is not None]
        store.extend(labels, [t for t, _ in kept], [v for _, v in kept])


def _compare(case: Eval, got: Answer) -> str | None:
    """None when ``got`` is what the case expects, else what differs."""
    if case.scalar is not None or isinstance(got, float):
        if case.scalar is None or not isinstance(got, float):
            return f"expected {'a scalar' if case.scalar is not None else 'a vector'}, got {got!r}"
        return None if almost_equal(case.scalar, got) else f"expected {case.scalar!r}, got {got!r}"
    rows = list(got.items()) if isinstance(got, dict) else got
    expected = {_key(labels): (pos, value) for pos, (labels, value) in enumerate(case.series)}
    seen = set()
    for pos, (key, value) in enumerate(rows):
        if key not in expected:
            return f"unexpected series {dict(key)} = {value!r}"
        want_pos, want = expected[key]
        if case.ordered and want_pos != pos:
            return f"{dict(key)} at position {pos + 1}, expected {want_pos + 1}"
        if not almost_equal(want, value):
            return f"{dict(key)}: expected {want!r}, got {value!r}"
        seen.add(key)
    missing = [dict(k) for k in expected if k not in seen]
    return f"missing {missing}" if missing else None


def _instant(expr: CompiledExpr, at: float, store: SeriesStore) -> Answer:
    result = evaluate(expr, at, store)
    if isinstance(result, float):
        return result
    return [(_key(s.labels), s.value) for s in result]


def _ranged(expr: CompiledExpr, at: float, store: SeriesStore) -> Answer:
    result = evaluate_range(expr, at - 60, at + 60, 60, store)
    out: dict[frozenset[tuple[str, str]], float] = {}
    for series in result:
        if isinstance(series, RangeSeries):
            for t, v in series.points:
                if t == at:
                    out[_key(dict(series.labels))] = v
        elif series[0] == at:
            return series[1]
    return out


def _check(case: Eval, expr: CompiledExpr, at: float, store: SeriesStore) -> str | None:
    """None when ``expr`` at ``at`` answers as the case expects, else what differs."""
    try:
        got = _instant(expr, at, store)
    except PromQLError as err:
        return None if case.fail else f"error: {err}"
    except Exception as err:  # a bug in the evaluator is a failed case, not a crashed run
        return f"crashed: {type(err).__name__}: {err}"
    if case.fail:
        return "expected an error, got an answer"
    problem = _compare(case, got)
    if problem is None and not case.ordered:
        try:
            problem = _compare(case, _ranged(expr, at, store))
        except Exception as err:
            problem = f"{type(err).__name__}: {err}"
        problem = None if problem is None else f"range mode: {problem}"
    return problem


def _pin(node: object, ts: int) -> None:
    """Give every selector and subquery of ``node`` without an ``@`` the modifier ``@ ts`` (ms),
    leaving what is inside a subquery alone, as test.go's ``atModifierTestCases`` does. Nodes are
    told by their attributes, not ``isinstance``: ABC checks on mypyc-compiled classes misfire."""
    if hasattr(node, "at_kind"):  # a selector or a subquery
        if getattr(node, "at_kind") == AT_NONE:  # noqa: B009 - the attribute of any of three classes
            setattr(node, "at_kind", AT_FIXED)  # noqa: B010
            setattr(node, "at_ms", ts)  # noqa: B010
        return
    for cls in type(node).__mro__:
        # Slots are member descriptors in plain Python, getset descriptors once compiled by mypyc.
        for name, attribute in vars(cls).items():
            if isinstance(attribute, MemberDescriptorType | GetSetDescriptorType) and not name.startswith(
                "__"
            ):
                value = getattr(node, name, None)
                for child in value if isinstance(value, list | tuple) else [value]:
                    if any(hasattr(child, method) for method in ("compute", "scalar", "windows")):
                        _pin(child, ts)


def _pinned(case: Eval) -> list[tuple[CompiledExpr, float]]:
    """test.go's extra runs of a case: every selector pinned at the case's time by ``@``,
    evaluated at other times (unless a function reads the evaluation time)."""
    if _READS_TIME.search(case.expr):
        return []
    ts = round(case.at * 1000)
    root = parse_expr(case.expr)  # a tree of its own: compile_expr's are cached and shared
    _pin(root, ts)
    expr = CompiledExpr(case.expr, root)
    times = [-1000, 0, 1000] if ts == 0 else [-10 * ts, 0, ts // 5, ts, 10 * ts]
    return [(expr, t / 1000) for t in times]


def run_case(case: Eval, store: SeriesStore) -> tuple[str, str]:
    """("pass" | "fail" | "refused", what went wrong)."""
    try:
        expr = compile_expr(case.expr)
    except PromQLError as err:
        if any(str(err).startswith(r) for r in REFUSALS):
            return "refused", str(err)
        return ("pass", "") if case.fail else ("fail", f"does not compile: {err}")
    problem = _check(case, expr, case.at, store)
    if problem is not None:
        return "fail", problem
    for pinned, at in _pinned(case):
        problem = _check(case, pinned, at, store)
        if problem is not None:
            return "fail", f"with every selector @ {case.at:g}, evaluated at {at:g}: {problem}"
    return "pass", ""


def run_file(path: Path) -> Tally:
    tally = Tally()
    store = SeriesStore(retention=math.inf)
    for command in parse(path.read_text()):
        if isinstance(command, Clear):
            store = SeriesStore(retention=math.inf)
        elif isinstance(command, Load):
            _store(command, store)
        else:
            verdict, why = run_case(command, store)
            if verdict == "pass":
                tally.passed += 1
            elif verdict == "refused":
                tally.refused += 1
            else:
                tally.failed += 1
                tally.failures.append(f"{path.name}:{command.line}: {command.expr}\n    {why}")
    return tally


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    for folder in (path / "promql" / "testdata", path):
        found = sorted(folder.glob("*.test"))
        if found:
            return found
    return []


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path, help="a Prometheus checkout, its promql/testdata, or a .test file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failed case")
    args = parser.parse_args()
    files = _files(args.path)
    if not files:
        print(f"promql_conformance: no .test files under {args.path}", file=sys.stderr)
        return 2
    total = Tally()
    print(f"{'file':<24}{'pass':>6}{'fail':>6}{'refused':>9}{'cases':>7}")
    for path in files:
        try:
            tally = run_file(path)
        except (OSError, TestFileError) as err:
            print(f"promql_conformance: {path}: {err}", file=sys.stderr)
            return 2
        cases = tally.passed + tally.failed + tally.refused
        print(f"{path.name:<24}{tally.passed:>6}{tally.failed:>6}{tally.refused:>9}{cases:>7}")
        total.passed += tally.passed
        total.failed += tally.failed
        total.refused += tally.refused
        total.failures += tally.failures
    cases = total.passed + total.failed + total.refused
    print(f"{'total':<24}{total.passed:>6}{total.failed:>6}{total.refused:>9}{cases:>7}")
    print(
        f"{total.passed} of {total.passed + total.failed} supported cases pass; "
        f"{total.refused} of {cases} refused"
    )
    if args.verbose:
        print("\n".join(total.failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
