"""The stack file's alert rules checked as a whole: expressions that do not parse or that the
evaluator does not support, metric names a kind does not publish, templates outside the supported
subset, channels that do not exist, names defined twice."""

from __future__ import annotations

import difflib
import re
from typing import Any

from vigil.config.source import Source
from vigil.config.yaml_places import shown
from vigil.errors import ConfigFault
from vigil.probes.registry import KINDS


def rule_faults(source: Source) -> list[ConfigFault]:
    """Alert expressions that do not parse or use what the evaluator does not support, templates
    outside the supported subset, duplicate names; read from the raw data so that they are
    reported together with every other fault of the file."""
    data: dict[str, Any] = source.data if isinstance(source.data, dict) else {}
    raw_rules = data.get("alerts")
    rules: list[Any] = raw_rules if isinstance(raw_rules, list) else []
    if not rules:
        return []  # without alerts the query evaluator (and its regex engine) need not load
    from vigil.alerting.template import TemplateError, check
    from vigil.metrics.promql import PromQLError, compile_expr

    remote = bool(data.get("prometheus"))
    raw_notify = data.get("notify")
    notify: dict[str, Any] = raw_notify if isinstance(raw_notify, dict) else {}
    raw_channels = notify.get("channels")
    channels = list(raw_channels) if isinstance(raw_channels, dict) else []
    faults: list[ConfigFault] = []
    names: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        name = rule.get("name")
        if isinstance(name, str):
            if name in names:
                faults.append(
                    source.fault(
                        ("alerts", i, "name"), f"alert {name!r} is defined twice (also alerts[{names[name]}])"
                    )
                )
            names.setdefault(name, i)
        expr = rule.get("expr")
        if isinstance(expr, str) and expr.strip() and not remote:
            try:
                if compile_expr(expr).returns_scalar:
                    faults.append(
                        source.fault(
                            ("alerts", i, "expr"), "an alert expression must return a vector, not a scalar"
                        )
                    )
            except PromQLError as err:
                faults.append(source.fault(("alerts", i, "expr"), str(err)))
            else:
                faults += [source.fault(("alerts", i, "expr"), m) for m in _unknown_metrics(expr)]
        listed = rule.get("notify")
        for channel in listed if isinstance(listed, list) else []:
            if channel not in channels:
                faults.append(
                    source.fault(
                        ("alerts", i, "notify"),
                        f"unknown channel {channel!r}; channels are: {', '.join(map(shown, channels)) or 'none'}",
                    )
                )
        annotations = rule.get("annotations")
        for key, template in annotations.items() if isinstance(annotations, dict) else []:
            if isinstance(template, str):
                try:
                    check(template)
                except TemplateError as err:
                    faults.append(source.fault(("alerts", i, "annotations", key), str(err)))
    return faults


_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_NAME = re.compile(r"\bvigil_[A-Za-z0-9_]+")


def _unknown_metrics(expr: str) -> list[str]:
    """Names under a kind's documented prefix (``vigil_postgres_``) that the kind does not publish:
    a misspelt metric would otherwise make a rule that silently never fires."""
    declared = {m.name for kind in KINDS.values() for m in kind.metrics}
    prefixes = tuple(f"vigil_{name}_" for name, kind in KINDS.items() if kind.metrics)
    faults = []
    for name in dict.fromkeys(_NAME.findall(_QUOTED.sub("", expr))):
        if name.startswith(prefixes) and name not in declared:
            close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.8)
            hint = (
                f"; did you mean {close[0]!r}?" if close else " (the README lists the metrics of each kind)"
            )
            faults.append(f"unknown metric {name!r}{hint}")
    return faults
