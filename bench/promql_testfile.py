"""Prometheus' PromQL test files (``promql/testdata/*.test``), read as its ``promql/test.go`` does.

A file is a list of commands separated by blank lines (``#`` starts a comment line)::

    load 5m
        http_requests{job="api", instance="0"}  0+10x10  _  stale  1 2 Inf

    eval instant at 50m sum by (job) (http_requests)
        {job="api"} 100

    eval_ordered instant at 50m sort(http_requests)
    eval_fail instant at 50m count_values("x", foo)
    clear

A series' values are ``a+bxN`` (N+1 values from a, step b), ``axN`` (a, N+1 times), ``_`` (an
omitted step), ``_xN`` (N omitted steps), ``stale`` (a stale marker) or a number; samples of a
``load`` are ``step`` apart from time 0. An ``eval`` expects a scalar (one bare number) or one line
per series. In a series, ``0x10`` is 0 eleven times, not a hexadecimal number (as Prometheus'
lexer reads it); a series defined twice in one ``load`` keeps its last definition.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from vigil.metrics.series import STALE_NAN

_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_EVAL = re.compile(r"^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_UNSIGNED = r"(?:Inf|inf|NaN|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_NUMBER = rf"[-+]?{_UNSIGNED}"
_ITEM = re.compile(rf"^(?:(_)(?:x(\d+))?|(stale)|({_NUMBER})(?:([-+]{_UNSIGNED})?x(\d+))?)$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:\\.|[^"\\])*)"\s*,?')


class TestFileError(ValueError):
    """A line of a test file this reader cannot make sense of."""

    __test__ = False  # not a test class, whatever pytest guesses from its name


def duration(text: str) -> float:
    """A Prometheus duration (``1h30m``, ``90s``, ``0``) in seconds."""
    found = _DURATION.fullmatch(text)
    if text == "0":
        return 0.0
    if not text or found is None:
        raise TestFileError(f"not a duration: {text!r}")
    return sum(float(n) * unit for n, unit in zip(found.groups(), _UNITS, strict=True) if n)


def number(text: str) -> float:
    lowered = text.lower().lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    if lowered.startswith("0x"):
        return sign * int(lowered, 16)
    if lowered == "inf":
        return sign * math.inf
    return float(text)


def _labels(text: str) -> tuple[dict[str, str], str]:
    """A series' ``name{label="value", …}`` at the start of ``text``, and the rest."""
    text = text.strip()
    name_match = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", text)
    labels: dict[str, str] = {}
    if name_match:
        labels["__name__"] = name_match.group(0)
        text = text[name_match.end() :]
    if text.startswith("{"):
        end = 1
        while True:
            if text[end:].lstrip().startswith("}"):
                end += text[end:].index("}") + 1
                break
            label = _LABEL.match(text, end)
            if label is None:
                raise TestFileError(f"cannot read the labels of {text!r}")
            labels[label.group(1)] = label.group(2).encode().decode("unicode_escape")
            end = label.end()
        text = text[end:]
    return labels, text


def _values(text: str) -> list[float | None]:
    out: list[float | None] = []
    for item in text.split():
        found = _ITEM.match(item)
        if found is None:
            raise TestFileError(f"not a series value: {item!r}")
        blank, blanks, stale, first, step, times = found.groups()
        if blank:
            out.extend([None] * (int(blanks) if blanks else 1))
        elif stale:
            out.append(STALE_NAN)
        elif times is None:
            out.append(number(first))
        else:
            value, delta = number(first), number(step) if step else 0.0
            for _ in range(int(times) + 1):
                out.append(value)
                value += delta
    return out


@dataclass
class Load:
    step: float
    series: list[tuple[dict[str, str], list[float | None]]] = field(default_factory=list)


@dataclass
class Eval:
    line: int
    expr: str
    at: float
    fail: bool
    ordered: bool
    scalar: float | None = None
    series: list[tuple[dict[str, str], float]] = field(default_factory=list)


@dataclass
class Clear:
    pass


Command = Load | Eval | Clear


def parse(text: str) -> list[Command]:
    lines = ["" if raw.strip().startswith("#") else raw.strip() for raw in text.split("\n")]
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        word = line.split(None, 1)[0].lower()
        if word == "clear":
            commands.append(Clear())
            continue
        block: list[str] = []
        while i < len(lines) and lines[i]:
            block.append(lines[i])
            i += 1
        if word == "load":
            load = Load(duration(line.split(None, 1)[1].strip()))
            for defline in block:
                labels, rest = _labels(defline)
                load.series.append((labels, _values(rest)))
            commands.append(load)
        elif word.startswith("eval"):
            commands.append(_eval(line, block, i - len(block)))
        else:
            raise TestFileError(f"line {i}: unknown command {line!r}")
    return commands


def _eval(line: str, block: list[str], lineno: int) -> Eval:
    found = _EVAL.match(line)
    if found is None:
        raise TestFileError(f"line {lineno}: not an eval command: {line!r}")
    mod, at, expr = found.groups()
    cmd = Eval(lineno, expr, duration(at or "0"), fail=mod == "fail", ordered=mod == "ordered")
    for defline in block:
        try:
            cmd.scalar = number(defline)
            break  # a scalar ends the expectations, as test.go reads them
        except ValueError:
            pass
        labels, rest = _labels(defline)
        values = _values(rest)
        if len(values) != 1 or values[0] is None:
            raise TestFileError(f"line {lineno}: expected one value in {defline!r}")
        cmd.series.append((labels, values[0]))
    return cmd
