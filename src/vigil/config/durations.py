"""Durations as people write them in runbooks and Prometheus rules: ``500ms``, ``30s``, ``5m``, ``1h30m``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SHAPE = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


def parse_duration(value: Any) -> float:
    """Seconds for ``value``; a bare number is seconds. Raises ``ValueError`` with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {type(value).__name__}")
    text = value.strip()
    if not re.fullmatch(_SHAPE, text):
        raise ValueError(f"{value!r} is not a duration; write it like 500ms, 30s, 5m, 1h or 1h30m")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))


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
