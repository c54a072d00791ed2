"""``histogram_quantile`` swept across the steps of a range query: in
``histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))`` the swept aggregation's series are
put in their histograms once (by their labels but ``le``), and each histogram's quantile is
computed step by step from its buckets' values, instead of every step keying every bucket again.

The results are those of the per-step path (``HistogramQuantile``) to the last bit: each step's
buckets go to the same ``bucket_quantile`` in the order the step's vector lists them (when their
order can matter: equal or NaN bounds), and the step's histograms come in the order the per-step
path would first meet them. Where the per-step path could stop at an error (two histograms with the
same labels) or name a histogram after whichever bucket comes first, the sweep declines and the
per-step path decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.metrics.promql.histogram import HistogramQuantile, bucket_of, bucket_quantile, histogram_labels
from vigil.metrics.promql.model import Constant, Labels, label_key
from vigil.metrics.promql.sweep import Stepped


def quantile_columns(
    node: HistogramQuantile, args: Sequence[Stepped], count: int
) -> tuple[list[Stepped], list[int]] | None:
    """``node``'s quantiles at each of ``count`` steps over its argument's series ``args`` (in the
    argument's order), each placed at a step by its first bucket there, and each argument's
    histogram (-1: not a bucket). None when the per-step path must decide."""
    q = node.q.value if isinstance(node.q, Constant) else 0.0
    histograms: dict[frozenset[tuple[str, str]], list[int]] = {}
    bounds = [0.0] * len(args)
    histogram_of = [-1] * len(args)
    for a, series in enumerate(args):
        bucket = bucket_of(series.labels)
        if bucket is not None:
            histograms.setdefault(bucket[0], []).append(a)
            bounds[a] = bucket[1]
    names: list[Labels] = []
    for h, members in enumerate(histograms.values()):
        labels = histogram_labels(args[members[0]].labels)
        if any(histogram_labels(args[a].labels) != labels for a in members):
            return None  # named after the bucket met first: per step
        names.append(labels)
        for a in members:
            histogram_of[a] = h
    if len({label_key(labels) for labels in names}) != len(names):
        return None  # two histograms may meet at a step: an error there, or not
    quantiles = [
        _quantiles(q, labels, args, members, bounds, count)
        for labels, members in zip(names, histograms.values(), strict=True)
    ]
    return quantiles, histogram_of


def _quantiles(
    q: float, labels: Labels, args: Sequence[Stepped], members: list[int], bounds: list[float], count: int
) -> Stepped:
    """One histogram's quantile at each step, placed where its first bucket is placed."""
    members = sorted(members, key=lambda a: bounds[a])
    # Distinct bounds sort one way whatever the order they come in; equal or NaN ones do not.
    any_order = all(bounds[members[i - 1]] < bounds[members[i]] for i in range(1, len(members)))
    values = [0.0] * count
    places = [-1] * count
    for k in range(count):
        place = -1
        present: list[int] = []
        for a in members:
            p = args[a].places[k]
            if p >= 0:
                present.append(a)
                if place < 0 or p < place:
                    place = p
        if place < 0:
            continue
        if not any_order:  # as the step lists them (no two are placed by one column)
            present = [a for _, a in sorted([(args[a].places[k], a) for a in present])]
        values[k] = bucket_quantile(q, [(bounds[a], args[a].values[k]) for a in present])
        places[k] = place
    return Stepped(labels, values, places)
