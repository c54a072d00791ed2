"""Float arithmetic as Go does it, where Python's differs.

Python raises on ``x / 0``, ``math.fmod(inf, y)``, ``math.pow(-8, 1/3)``, ``math.sqrt(-1)`` or
``math.log(0)``; Go (and so Prometheus) answers with ±Inf or NaN and carries on. Python's ``max``
and ``min`` also depend on argument order when a NaN is involved, Go's ``math.Max``/``Min`` return NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

INF = math.inf
NAN = math.nan


def div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if math.isnan(a) or a == 0.0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def mod(a: float, b: float) -> float:
    # math.Mod: NaN for an infinite dividend or a zero divisor, where fmod raises.
    try:
        return math.fmod(a, b)
    except ValueError:
        return NAN


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def pow_(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except ZeroDivisionError:
        # 0 to a negative power: Go's Pow(±0, y<0) is ±Inf (sign kept for an odd integer y).
        return math.copysign(INF, x) if _odd_integer(y) else INF
    except ValueError:
        if x == 0.0:
            return math.copysign(INF, x) if _odd_integer(y) else INF
        return NAN  # a negative base to a non-integer power
    except OverflowError:
        return -INF if x < 0 and _odd_integer(y) else INF


def go_max(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return NAN
    if a == b == 0.0:
        return b if math.copysign(1.0, a) < 0 else a  # Max(+0, -0) = +0
    return a if a > b else b


def go_min(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return NAN
    if a == b == 0.0:
        return a if math.copysign(1.0, a) < 0 else b  # Min(+0, -0) = -0
    return a if a < b else b


def _guarded(
    fn: Callable[[float], float], domain_error: Callable[[float], float]
) -> Callable[[float], float]:
    def call(v: float) -> float:
        try:
            return fn(v)
        except ValueError:
            return domain_error(v)
        except OverflowError:
            return INF

    return call


def _log_domain(v: float) -> float:
    return -INF if v == 0.0 else NAN


def _round_toward(fn: Callable[[float], int]) -> Callable[[float], float]:
    def call(v: float) -> float:
        if not math.isfinite(v):
            return v
        return math.copysign(float(fn(v)), v)  # Go keeps the sign of zero: Ceil(-0.5) = -0

    return call


def _sinh(v: float) -> float:
    try:
        return math.sinh(v)
    except OverflowError:
        return math.copysign(INF, v)


def _atanh_edge(v: float) -> float:
    return math.copysign(INF, v) if abs(v) == 1.0 else NAN  # Go: Atanh(±1) = ±Inf


def _sgn(v: float) -> float:
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return v  # 0 and NaN come back as they are


MATH_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": _round_toward(math.ceil),
    "floor": _round_toward(math.floor),
    "exp": _guarded(math.exp, lambda v: NAN),
    "sqrt": _guarded(math.sqrt, lambda v: NAN),
    "ln": _guarded(math.log, _log_domain),
    "log2": _guarded(math.log2, _log_domain),
    "log10": _guarded(math.log10, _log_domain),
    "sgn": _sgn,
    "sin": _guarded(math.sin, lambda v: NAN),
    "cos": _guarded(math.cos, lambda v: NAN),
    "tan": _guarded(math.tan, lambda v: NAN),
    "asin": _guarded(math.asin, lambda v: NAN),
    "acos": _guarded(math.acos, lambda v: NAN),
    "atan": math.atan,
    "sinh": _sinh,
    "cosh": _guarded(math.cosh, lambda v: NAN),
    "tanh": math.tanh,
    "asinh": math.asinh,
    "acosh": _guarded(math.acosh, lambda v: NAN),
    "atanh": _guarded(math.atanh, _atanh_edge),
    "rad": lambda v: v * math.pi / 180,
    "deg": lambda v: v * 180 / math.pi,
}


def format_float(v: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: the shortest digits that read back as ``v``,
    never an exponent; ``NaN``, ``+Inf`` and ``-Inf`` for the rest."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    return text[:-2] if text.endswith(".0") else text


def parse_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)``, which ``histogram_quantile`` applies to ``le``: Python's
    float() would also take spaces and underscores, and not hex floats."""
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float.fromhex(text) if "0x" in text.lower() else None
    except (ValueError, OverflowError):
        return None


def kahan_sum_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """``kahanSumInc`` (Neumaier's variant), which ``sum_over_time`` and ``avg_over_time`` use."""
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def nan_first(v: float) -> tuple[bool, float]:
    # Prometheus' value heaps order NaN below every number.
    return (not math.isnan(v), v)


def quantile(q: float, values: Sequence[float]) -> float:
    """``quantile``: linear interpolation between the two closest ranks."""
    if not values or math.isnan(q):
        return NAN
    if q < 0:
        return -INF
    if q > 1:
        return INF
    ordered = sorted(values, key=nan_first)
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def duration_seconds(ms: int) -> float:
    # time.Duration.Seconds(): whole seconds plus the nanosecond rest, so that ranges round alike.
    return float(ms // 1000) + float((ms % 1000) * 1_000_000) / 1e9
