"""Functions of time: ``timestamp`` and the date functions (``minute``, ``hour``, ``day_of_week``,
``day_of_month``, ``day_of_year``, ``days_in_month``, ``month``, ``year``), in UTC. Ports of
Prometheus 2.42's ``funcTimestamp`` and ``dateWrapper``: without an argument a date function reads
the evaluation time and answers a one-element vector; with one it reads each value as Unix seconds
(truncated, as Go's ``int64()``) and drops ``__name__``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from datetime import UTC, datetime

from vigil.metrics.promql.functions import map_values
from vigil.metrics.promql.gofloat import NAN
from vigil.metrics.promql.model import EvalContext, Vec, VectorNode, drop_name, ensure_unique
from vigil.metrics.promql.selectors import VectorSelector, single_name

DateField = Callable[[datetime], int]

DATE_FUNCTIONS: dict[str, DateField] = {
    "minute": lambda d: d.minute,
    "hour": lambda d: d.hour,
    "day_of_week": lambda d: (d.weekday() + 1) % 7,  # Go: Sunday is 0
    "day_of_month": lambda d: d.day,
    "day_of_year": lambda d: d.timetuple().tm_yday,
    "days_in_month": lambda d: calendar.monthrange(d.year, d.month)[1],
    "month": lambda d: d.month,
    "year": lambda d: d.year,
}


def _date_value(field: DateField, seconds: float) -> float:
    if not math.isfinite(seconds):
        return NAN
    try:
        return float(field(datetime.fromtimestamp(math.trunc(seconds), UTC)))
    except (OverflowError, OSError, ValueError):
        return NAN  # beyond what a datetime holds (years 1 to 9999)


class DateCall(VectorNode):
    __slots__ = ("arg", "field")

    def __init__(self, field: DateField, arg: VectorNode | None) -> None:
        self.field = field
        self.arg = arg

    def compute(self, ctx: EvalContext) -> Vec:
        field = self.field
        if self.arg is None:
            return [({}, _date_value(field, ctx.at_ms / 1000))]
        return map_values(self.arg.vector(ctx), lambda v: _date_value(field, v))


class Timestamp(VectorNode):
    """``timestamp(v)``: of a selector, each sample's own time; of anything else, whose values are
    computed at the evaluation time, that time."""

    __slots__ = ("arg",)

    def __init__(self, arg: VectorNode) -> None:
        self.arg = arg

    def compute(self, ctx: EvalContext) -> Vec:
        arg = self.arg
        if isinstance(arg, VectorSelector):
            stamped = arg.stamps(ctx)
            return stamped if single_name(arg.matchers) else ensure_unique(stamped)
        at = ctx.at_ms / 1000
        return [(drop_name(labels), at) for labels, _ in arg.vector(ctx)]
