"""Prometheus rule files in and out: ``vigil rules export`` writes the stack file's alerts as a
rule file ``promtool check rules`` accepts; ``vigil rules import`` reads one into ``alerts:``.

Vigil's ``severity`` becomes the ``severity`` label and ``runbook`` the ``runbook_url``
annotation — the conventions Prometheus users already follow — and back again.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from vigil.config import bounded_yaml
from vigil.config.alerts import AlertRule
from vigil.config.durations import format_duration, parse_duration
from vigil.errors import ConfigError, ConfigFault
from vigil.incidents.scheme import DEFAULT_SCHEME, SeverityScheme


def export_rules(rules: list[AlertRule], *, interval: float, group: str = "vigil") -> str:
    out: list[dict[str, Any]] = []
    for rule in rules:
        entry: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
        if rule.for_:
            entry["for"] = format_duration(rule.for_)
        if rule.keep_firing_for:
            entry["keep_firing_for"] = format_duration(rule.keep_firing_for)
        entry["labels"] = {**({"severity": rule.severity} if rule.severity else {}), **rule.labels}
        annotations = dict(rule.annotations)
        if rule.runbook:
            annotations.setdefault("runbook_url", rule.runbook)
        if annotations:
            entry["annotations"] = annotations
        out.append(entry)
    document = {"groups": [{"name": group, "interval": format_duration(interval), "rules": out}]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def import_rules(
    file: str, text: str, scheme: SeverityScheme = DEFAULT_SCHEME
) -> tuple[list[AlertRule], list[str]]:
    """The alerting rules of a Prometheus rule file, and a note for each rule left out; each
    rule's ``severity`` label becomes a level of ``scheme`` (``critical`` → its first)."""
    loaded = bounded_yaml.load(file, text, what="rule file")
    if loaded.faults:
        raise ConfigError(loaded.faults)
    document = loaded.data
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list):
        raise ConfigError(
            [ConfigFault(file, 1, 1, "", "a Prometheus rule file has a top-level groups: list")]
        )
    rules: list[AlertRule] = []
    skipped: list[str] = []
    faults: list[ConfigFault] = []
    for g, group in enumerate(groups):
        for r, raw in enumerate(group.get("rules", []) if isinstance(group, dict) else []):
            where = f"groups[{g}].rules[{r}]"
            if not isinstance(raw, dict) or "alert" not in raw:
                skipped.append(
                    f"{where}: recording rule {raw.get('record') if isinstance(raw, dict) else raw!r} skipped"
                )
                continue
            try:
                rules.append(_rule(raw, scheme))
            except (ValidationError, ValueError) as err:
                message = str(err).splitlines()[0] if not isinstance(err, ValidationError) else _first(err)
                faults.append(ConfigFault(file, 0, 0, where, message))
    if faults:
        raise ConfigError(faults)
    return rules, skipped


def _rule(raw: dict[str, Any], scheme: SeverityScheme) -> AlertRule:
    for part in ("labels", "annotations"):
        if not isinstance(raw.get(part) or {}, dict):
            raise ValueError(f"{part} must be a mapping of names to values")
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()}
    said = labels.pop("severity", None)
    severity = scheme.pick(said).name if said is not None else None
    runbook = annotations.pop("runbook_url", None) or annotations.pop("runbook", None)
    fields: dict[str, Any] = {
        "name": raw["alert"],
        "expr": str(raw.get("expr", "")),
        "for": parse_duration(raw.get("for", 0)),
        "keep_firing_for": parse_duration(raw.get("keep_firing_for", 0)),
        "severity": severity,
        "labels": labels,
        "annotations": annotations,
        "runbook": runbook,
    }
    return AlertRule.model_validate(fields)


def _first(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def alerts_yaml(rules: list[AlertRule]) -> str:
    """The ``alerts:`` block of a stack file for ``rules``."""
    items = [rule.model_dump(by_alias=True, exclude_defaults=True, mode="json") for rule in rules]
    for item, rule in zip(items, rules, strict=True):
        item.setdefault("name", rule.name)
        item.setdefault("expr", rule.expr)
    return yaml.safe_dump({"alerts": items}, sort_keys=False, allow_unicode=True, width=120)
