"""Annotation templates in the subset of Prometheus' Go-template syntax that rule files use:
``{{ $value }}``, ``{{ $labels.instance }}``, ``{{ $value | humanizePercentage }}``,
``{{ printf "%.2f" $value }}``.

Hand-written because no maintained Python library renders Go templates; the subset is the
part real alert rules use, and anything outside it is a validation error, not a blank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from vigil.errors import VigilError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_PRINTF = re.compile(r'^printf\s+"((?:[^"\\]|\\.)*)"\s+(\S+)$')


class TemplateError(VigilError):
    """A template uses something outside the supported subset; the message names it."""


def _humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:g}"
    for factor, prefix in (
        (1e24, "Y"),
        (1e21, "Z"),
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ):
        if abs(value) >= factor:
            return f"{value / factor:.4g}{prefix}"
    for factor, prefix in ((1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")):
        if abs(value) >= factor and abs(value) < 1:
            return f"{value / factor:.4g}{prefix}"
    return f"{value:.4g}"


def _duration(value: float) -> str:
    # Prometheus' humanizeDuration: whole units above a minute, 4 significant digits below.
    if math.isnan(value) or math.isinf(value):
        return f"{value:.4g}"
    if value == 0:
        return "0s"
    if abs(value) < 1:
        prefix = ""
        for unit in ("m", "u", "n", "p", "f", "a"):
            if abs(value) >= 1:
                break
            prefix, value = unit, value * 1000
        return f"{value:.4g}{prefix}s"
    sign, whole = ("-" if value < 0 else ""), int(abs(value))
    days, hours, minutes, seconds = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{abs(value):.4g}s"


FUNCTIONS: dict[str, Callable[[float], str]] = {
    "humanize": _humanize,
    "humanizePercentage": lambda v: f"{v * 100:.4g}%",
    "humanizeDuration": _duration,
    "humanize1024": lambda v: f"{v:.4g}",
}


def render(template: str, labels: Mapping[str, str], value: float) -> str:
    def action(match: re.Match[str]) -> str:
        return _evaluate(match.group(1), labels, value)

    return _ACTION.sub(action, template)


def check(template: str) -> None:
    """Raise ``TemplateError`` when ``template`` uses anything outside the subset."""
    render(template, {}, 0.0)


def _evaluate(expression: str, labels: Mapping[str, str], value: float) -> str:
    stages = [stage.strip() for stage in expression.split("|")]
    head, functions = stages[0], stages[1:]
    printf = _PRINTF.match(head)
    if printf:
        fmt, operand = printf.group(1).replace('\\"', '"'), printf.group(2)
        subject: float | str = _operand(operand, labels, value)
        try:
            result = fmt % subject
        except (TypeError, ValueError) as err:
            raise TemplateError(f"printf {fmt!r} cannot format {operand}: {err}") from None
    else:
        subject = _operand(head, labels, value)
        result = f"{subject:g}" if isinstance(subject, float) else subject
    for name in functions:
        function = FUNCTIONS.get(name)
        if function is None:
            raise TemplateError(f"unsupported template function {name!r}; supported: {', '.join(FUNCTIONS)}")
        number = subject if isinstance(subject, float) else _number(subject, name)
        result = function(number)
    return result


def _operand(text: str, labels: Mapping[str, str], value: float) -> float | str:
    if text in {"$value", ".Value"}:
        return value
    for prefix in ("$labels.", ".Labels."):
        if text.startswith(prefix):
            return labels.get(text[len(prefix) :], "")
    raise TemplateError(f"unsupported template expression {{{{ {text} }}}}; use $value or $labels.<name>")


def _number(text: str, function: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise TemplateError(f"{function} needs a number, got {text!r}") from None
