"""Durations as people write them in runbooks and Prometheus rules: ``500ms``, ``30s``, ``5m``, ``1h30m``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SHAPE = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"
# Ten years: longer means nothing to a check or a silence, and a date past it soon overflows.
LONGEST = 10 * 365 * 86400.0


def parse_duration(value: Any) -> float:
    """Seconds for ``value``; a bare number is seconds. Raises ``ValueError`` with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {type(value).__name__}")
    text = value.strip()
    if not re.fullmatch(_SHAPE, text):
        shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
        raise ValueError(f"{shown} is not a duration; write it like 500ms, 30s, 5m, 1h or 1h30m")
    return _bounded(sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text)), text)


def _bounded(seconds: float, given: object) -> float:
    shown = str(given) if len(str(given)) <= 40 else str(given)[:40] + "…"
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is not a duration; write it like 500ms, 30s, 5m, 1h or 1h30m")
    if seconds > LONGEST:
        raise ValueError(f"{shown} is longer than ten years (3650d), the longest duration Vigil takes")
    return seconds


def at_most(longest: float, what: str) -> Callable[[float], float]:
    """A validator for a ``Duration`` field that takes no more than ``longest`` seconds."""

    def check(seconds: float) -> float:
        if seconds > longest:
            raise ValueError(
                f"{what} lasts at most {format_duration(longest)}, not {format_duration(seconds)}"
            )
        return seconds

    return check


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    out = ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    return out or "0s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _SHAPE, "examples": ["30s", "5m", "1h"]}),
]
"""Seconds as a float inside Vigil; a string like ``30s`` in the stack file."""
