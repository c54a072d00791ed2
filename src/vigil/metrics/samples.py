"""What becomes a sample: a check's result, and a scraped sample once its target's labels are on.

A check result gives, at the time the check started::

    vigil_check_up{service, check, kind}                          1 passed, 0 failed
    vigil_check_duration_seconds{service, check, kind}            the whole run, retries included
    vigil_check_value{service, check, kind, value="connect_ms"}   each number the probe kept

and, for each value its kind declares a ``Metric`` for, the same number under that documented
name with the same labels plus the metric's own (``vigil_redis_list_length{…, list="jobs"}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from urllib.parse import urlsplit

from vigil.metrics.store import NAME, Sample
from vigil.probes.base import Metric, Result

CHECK_UP = "vigil_check_up"
CHECK_DURATION = "vigil_check_duration_seconds"
# One metric for every probe value, named by a `value` label, rather than a metric per value
# (`vigil_check_connect_ms`): the names of values are partly user data (a query check's column
# aliases), and as a label value any text is valid as it is, where a metric name would need
# sanitizing that can merge two values ("p95-ms", "p95_ms") or collide with vigil_check_up.
# It also keeps the set of metric names Vigil writes fixed, so rules can be checked against it:
# the named metrics below are a fixed set too, declared by each kind beside its values.
CHECK_VALUE = "vigil_check_value"
EXPORTED_PREFIX = "exported_"


def result_samples(result: Result, kind: str) -> list[Sample]:
    """The samples of one check result; ``kind`` is the probe kind (``http``, ``postgres``, …)."""
    t = whole_ms(result.started_at.timestamp())
    # `kind` as a label lets one rule cover every check of a kind (`vigil_check_up{kind="postgres"}`).
    base = {"service": result.service, "check": result.check, "kind": kind}
    samples: list[Sample] = [
        ({NAME: CHECK_UP, **base}, t, 1.0 if result.ok else 0.0),
        ({NAME: CHECK_DURATION, **base}, t, result.duration_ms / 1000.0),
    ]
    # A failed run keeps the values it measured (connect_ms before a failed query, exit_code).
    exact, labelled = declared(kind)
    for name, value in sorted(result.values.items()):
        samples.append(({NAME: CHECK_VALUE, **base, "value": name}, t, float(value)))
        metric = exact.get(name)
        if metric is not None:
            samples.append(({NAME: metric.name, **base}, t, float(value) * metric.scale))
            continue
        prefix, dot, rest = name.partition(".")
        metric = labelled.get(prefix) if dot else None
        if metric is not None and metric.label is not None:
            labels = {NAME: metric.name, **base, metric.label: rest}
            samples.append((labels, t, float(value) * metric.scale))
    return samples


@cache
def declared(kind: str) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """The metrics ``kind`` declares, by the value each publishes: plain ones, and labelled ones
    by the prefix before the dot. Nothing for a kind that is not registered."""
    from vigil.probes.registry import KINDS  # every probe module: only once a result comes in

    probe_kind = KINDS.get(kind)
    metrics = probe_kind.metrics if probe_kind is not None else ()
    return (
        {m.value: m for m in metrics if m.label is None},
        {m.value: m for m in metrics if m.label is not None},
    )


def target_labels(job: str, url: str, static: Mapping[str, str]) -> dict[str, str]:
    """What Prometheus 2 sets on every series of a target: ``job``, ``instance`` (``host:port``,
    with the scheme's port when the URL has none) and the static labels, which may override
    ``instance``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    labels = {"job": job, "instance": f"{host}:{port}", **static}
    return {name: value for name, value in labels.items() if value}


def with_target_labels(exposed: Mapping[str, str], target: Mapping[str, str]) -> dict[str, str]:
    """A scraped sample's ``exposed`` labels with its target's labels (``job``, ``instance``, static
    ones) set over them, as Prometheus does with ``honor_labels: false``: an exposed label a target
    label overrides is kept as ``exported_<name>``, or ``exported_exported_<name>`` if that is taken."""
    labels = dict(exposed)
    labels.update(target)
    clashes = [(name, exposed[name]) for name in sorted(target) if exposed.get(name)]
    if not clashes:
        return labels
    # Shortest names choose first (a stable sort), so the result matches Prometheus' exactly.
    clashes.sort(key=lambda clash: len(clash[0]))
    chosen: set[str] = set()
    for name, value in clashes:
        renamed = EXPORTED_PREFIX + name
        while renamed in exposed or renamed in target or renamed in chosen:
            renamed = EXPORTED_PREFIX + renamed
        chosen.add(renamed)
        labels[renamed] = value
    return labels


def whole_ms(t: float) -> float:
    """``t`` cut to whole milliseconds, the precision Prometheus stores (it truncates, not rounds).

    Through whole microseconds first: ``t * 1000`` alone can land just under an exact millisecond.
    """
    return (round(t * 1_000_000) // 1000) / 1000
