"""``histogram_quantile`` over classic ``le`` buckets: a port of Prometheus 2.42's
``funcHistogramQuantile`` and ``bucketQuantile`` (``promql/quantile.go``).

Native histograms do not exist in Vigil's store, so only the bucket path is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from vigil.metrics.promql.gofloat import INF, NAN, div, parse_float
from vigil.metrics.promql.model import (
    NAME,
    EvalContext,
    Labels,
    ScalarNode,
    Vec,
    VectorNode,
    ensure_unique,
    node_key,
    param_key,
)

BUCKET_LABEL = "le"


def _search(n: int, at_least: Callable[[int], bool]) -> int:
    """Go's ``sort.Search``, step for step: with NaN counts its answer differs from ``bisect``'s."""
    i, j = 0, n
    while i < j:
        h = (i + j) >> 1
        if not at_least(h):
            i = h + 1
        else:
            j = h
    return i


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The q-quantile of (upper bound, cumulative count) buckets, interpolating linearly inside
    the bucket it falls in; the lowest bucket starts at 0 unless its bound is not positive, and a
    quantile in the +Inf bucket is the next-highest bound."""
    if math.isnan(q):
        return NAN
    if q < 0:
        return -INF
    if q > 1:
        return INF
    buckets.sort(key=lambda b: b[0])
    if buckets[-1][0] != INF:
        return NAN
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in buckets:  # coalesceBuckets: equal bounds (e.g. "1" and "1.0") add up
        if bounds and bound == bounds[-1]:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    # ensureMonotonic: buckets scraped or rated apart may dip; take the running maximum so the
    # binary search below stays meaningful.
    top = counts[0]
    for i in range(1, len(counts)):
        if counts[i] > top:
            top = counts[i]
        elif counts[i] < top:
            counts[i] = top
    if len(counts) < 2:
        return NAN
    observations = counts[-1]
    if observations == 0:
        return NAN
    rank = q * observations
    b = _search(len(counts) - 1, lambda i: counts[i] >= rank)
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * div(rank, count)


# A few le values ("0.1", "0.5", "+Inf") recur in every histogram: each is parsed once.
_bound = lru_cache(maxsize=4096)(parse_float)


def bucket_of(labels: Labels) -> tuple[frozenset[tuple[str, str]], float] | None:
    """The histogram a series is a bucket of (its labels but ``le``) and the bucket's upper bound;
    None for a series without an ``le`` or with a malformed one, which is not a bucket."""
    le = labels.get(BUCKET_LABEL, "")
    bound = _bound(le)
    if bound is None:
        return None
    # Buckets of one histogram share every label but le (the name included); a label set to ""
    # counts as absent, which the set difference (in C) leaves to the rare case.
    key = frozenset(labels.items()).difference(((BUCKET_LABEL, le),))
    if "" in labels.values():
        key = frozenset((k, v) for k, v in key if v)
    return key, bound


def histogram_labels(labels: Labels) -> Labels:
    """The labels of the quantile of the histogram a bucket with ``labels`` belongs to."""
    return {k: v for k, v in labels.items() if k not in (NAME, BUCKET_LABEL)}


class HistogramQuantile(VectorNode):
    __slots__ = ("arg", "key", "q")

    def __init__(self, q: ScalarNode, arg: VectorNode) -> None:
        self.q = q
        self.arg = arg
        shown = param_key(q)
        self.key = node_key(
            None if arg.key is None or shown is None else f"histogram_quantile({shown})({arg.key})"
        )

    def compute(self, ctx: EvalContext) -> Vec:
        q = self.q.scalar(ctx)
        groups: dict[frozenset[tuple[str, str]], tuple[Labels, list[tuple[float, float]]]] = {}
        for labels, value in self.arg.vector(ctx):
            bucket = bucket_of(labels)
            if bucket is None:
                continue  # not a bucket: skipped as Prometheus does
            group = groups.get(bucket[0])
            if group is None:
                group = groups[bucket[0]] = (histogram_labels(labels), [])
            group[1].append((bucket[1], value))
        out: Vec = [(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()]
        # Two histograms that differ only by name now collide; Prometheus refuses that result.
        return ensure_unique(out) if len(out) > 1 else out
