"""``rate``, ``increase`` and ``delta``: Prometheus 2.42's ``extrapolatedRate``, the functions
nearly every alert rule runs, over every series of a range selector in one loop.

A node of their own rather than three ``RangeFunction``s: a rule cycle computes them for hundreds
of thousands of series, and two Python calls per series were a quarter of their cost. A window the
source vouches holds no NaN and no drop comes as its edges alone (``SeriesEdges``: count, first and
last sample), which is all these functions read of it: the store then neither copies the samples
nor decodes the chunks the window holds whole. The float operations and their order are
Prometheus' (see ``rangefuncs``), so either way the answer is the same to the bit.
"""

from __future__ import annotations

from itertools import islice
from operator import gt

from vigil.metrics.promql.gofloat import div, duration_seconds
from vigil.metrics.promql.model import EvalContext, Vec, VectorNode, ensure_unique, node_key
from vigil.metrics.promql.selectors import MatrixSelector, nameless
from vigil.metrics.series import SeriesEdges

# name -> (counter: corrected for resets and kept from extrapolating below zero, per second)
EXTRAPOLATED = {"rate": (True, True), "increase": (True, False), "delta": (False, False)}


class ExtrapolatedRate(VectorNode):
    __slots__ = ("check", "counter", "key", "per_second", "range_s", "selector")

    def __init__(self, name: str, selector: MatrixSelector, *, check: bool) -> None:
        self.counter, self.per_second = EXTRAPOLATED[name]
        self.selector = selector
        self.range_s = duration_seconds(selector.range_ms)
        self.check = check  # the selector may match several names: results must stay distinct
        self.key = node_key(f"{name}(){check:d}{selector.key}")

    def compute(self, ctx: EvalContext) -> Vec:
        start, end = self.selector.bounds(ctx)
        counter, per_second, range_s = self.counter, self.per_second, self.range_s
        out: Vec = []
        append = out.append
        for w in self.selector.edges(ctx):
            if isinstance(w, SeriesEdges):
                # Vouched to hold no NaN and no drop: its edges are all there is to read.
                n = w.samples
                if n < 2:
                    continue
                first = w.first_value
                result = w.last_value - first
                t_first, t_last = round(w.first_time * 1000), round(w.last_time * 1000)
                labels = w.nameless
            else:
                values = w.values
                n = len(values)
                if n < 2:
                    continue
                first = values[0]
                result = values[-1] - first
                # map() over a comparison runs in C: only a window that really holds a reset pays
                # for the loop, and none at all when the source vouches there is none.
                if counter and not w.monotonic and any(map(gt, values, islice(values, 1, None))):
                    prev = first
                    for cur in values:
                        if cur < prev:
                            result += prev
                        prev = cur
                ts = w.timestamps
                # round(), not int(): 1700000000.123 * 1000 may land a hair below its millisecond.
                t_first, t_last = round(ts[0] * 1000), round(ts[-1] * 1000)
                labels = nameless(w)
            factor = extrapolation(result, first, n, t_first, t_last, start, end, counter)
            if per_second:
                factor /= range_s
            append((labels, result * factor))
        return ensure_unique(out) if self.check else out


def extrapolation(
    result: float, first: float, n: int, t_first: int, t_last: int, start: int, end: int, counter: bool
) -> float:
    """The factor ``result`` (the last of ``n`` samples less the ``first``, resets added back) is
    extrapolated by to cover the window ``[start, end]`` (ms) from the samples' ``[t_first,
    t_last]``; for a rate, still to divide by the range in seconds."""
    to_start = (t_first - start) / 1000
    to_end = (end - t_last) / 1000
    sampled = (t_last - t_first) / 1000
    average = sampled / (n - 1)
    if counter and result > 0 and first >= 0:
        # A counter cannot go below zero: don't extrapolate the start past where it would be 0.
        to_zero = sampled * (first / result)
        to_start = min(to_start, to_zero)
    # Extrapolate to an edge only if the next sample would have fallen beyond it (10% leeway);
    # otherwise assume the series starts or ends half an interval past its outer samples.
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return interval / sampled if sampled else div(interval, sampled)
