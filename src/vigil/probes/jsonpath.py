"""Conditions on a JSON document, addressed by dotted paths: ``checks.database.status == healthy``.

A path walks objects by key and arrays by index (``items.0.name``, ``items.-1.name``). Values
from a stack file are compared the way a person reading it would: ``200`` equals ``"200"``,
``true`` equals ``"true"``, but ``true`` never equals ``1``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

MISSING: Final = object()
OPERATORS: Final = ("==", "!=", "<", "<=", ">", ">=", "contains")
_ORDERING: Final = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
_CONDITION = re.compile(
    r"\s*(?P<path>[^\s=!<>]+)\s*(?:(?P<op>==|!=|<=|>=|<|>)|\s(?P<word>contains)\s)\s*(?P<value>\S.*?)\s*"
)
_INDEX = re.compile(r"-?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Condition:
    """``path op expected``; ``judge`` says why a document fails it, or None when it holds."""

    path: str
    op: str
    expected: Any

    def judge(self, document: Any) -> str | None:
        actual = lookup(document, self.path)
        if actual is MISSING:
            return f"json {self.path} missing"
        if _holds(actual, self.op, self.expected):
            return None
        wanted = show(self.expected) if self.op == "==" else f"{self.op} {show(self.expected)}"
        return f"json {self.path} == {show(actual)}, expected {wanted}"


def conditions_from(spec: Mapping[str, Any] | Sequence[str]) -> tuple[Condition, ...]:
    """Conditions from a stack file's ``json:``; raises ``ValueError`` naming a malformed one."""
    if isinstance(spec, Mapping):
        return tuple(_flatten(spec, ""))
    return tuple(parse_condition(text) for text in spec)


def parse_condition(text: str) -> Condition:
    match = _CONDITION.fullmatch(text)
    if not match:
        raise ValueError(
            f"cannot read condition {text!r}; expected 'path op value' with op one of "
            f"{', '.join(OPERATORS)}, e.g. 'checks.database.status == healthy'"
        )
    path, op = match["path"], match["op"] or match["word"]
    _check_path(path)
    value = match["value"]
    # ``contains`` keeps the text: "version contains 1.10" must not become the number 1.1.
    expected = (value[1:-1] if _quoted(value) else value) if op == "contains" else literal(value)
    if op in _ORDERING and _number(expected) is None:
        raise ValueError(f"condition {text!r} compares with {op}, so its right side must be a number")
    return Condition(path, op, expected)


def lookup(document: Any, path: str) -> Any:
    """The value at ``path``, or ``MISSING``."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and _INDEX.fullmatch(part):
            index = int(part)
            if not -len(current) <= index < len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def literal(text: str) -> Any:
    """A condition's right side as a value: quotes force a string, otherwise numbers and
    ``true``/``false``/``null`` are read as such and anything else stays text."""
    if _quoted(text):
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return text


def same(actual: Any, expected: Any) -> bool:
    # One side text and the other not: the text is read as a literal, so "200" meets 200.
    if isinstance(actual, str) != isinstance(expected, str):
        if isinstance(actual, str):
            actual = literal(actual)
        else:
            expected = literal(expected)
    # Python says True == 1; a health endpoint returning 1 for "ok: true" is a different answer.
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    return bool(actual == expected)


def show(value: Any) -> str:
    """``value`` as JSON, cut short enough for a one-line reason."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _holds(actual: Any, op: str, expected: Any) -> bool:
    if op == "==":
        return same(actual, expected)
    if op == "!=":
        return not same(actual, expected)
    if op == "contains":
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list):
            return any(same(item, expected) for item in actual)
        if isinstance(actual, dict):
            return str(expected) in actual
        return False
    left, right = _number(actual), _number(expected)
    return left is not None and right is not None and _ORDERING[op](left, right)


def _quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        value = literal(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _flatten(spec: Mapping[Any, Any], prefix: str) -> Iterator[Condition]:
    for key, value in spec.items():
        path = f"{prefix}{key}"
        _check_path(path)
        # A non-empty mapping descends; an empty one is a value (the field must be {}).
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, path + ".")
        else:
            yield Condition(path, "==", value)


def _check_path(path: str) -> None:
    if not path or "" in path.split("."):
        raise ValueError(f"json path {path!r} has an empty part; write it like checks.database.status")
