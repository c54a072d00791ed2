"""Severities in a stack file checked against its scheme, with each fault at its line:
``severities.critical: unknown severity; the scheme has P1, P2, P3, P4`` and
``services.api.checks.health.alert.severity: unknown severity 'P7'; the scheme has …``.

Read from the raw data, as the loader's other whole-file checks are, so that these faults are
reported together with every other fault of the file.
"""

from __future__ import annotations

from typing import Any

from vigil.config.severities import names_only, scheme_faults
from vigil.config.source import Source
from vigil.errors import ConfigFault
from vigil.incidents.scheme import SchemeName


def severity_faults(source: Source) -> list[ConfigFault]:
    data: dict[str, Any] = source.data if isinstance(source.data, dict) else {}
    try:
        name = SchemeName(data.get("severity_scheme", SchemeName.P))
    except ValueError:
        return []  # the schema names the schemes there are
    levels = _mapping(data.get("severities"))
    faults = [
        source.fault(path, message, key=len(path) == 2) for path, message in scheme_faults(name, levels)
    ]
    if not levels and name is SchemeName.CUSTOM:
        return faults  # no level to name: reported above
    scheme = names_only(name, levels)
    for service_name, service in _mapping(data.get("services")).items():
        for check_name, check in _mapping(_mapping(service).get("checks")).items():
            severity = _mapping(_mapping(check).get("alert")).get("severity")
            if isinstance(severity, str) and (problem := scheme.problem(severity)):
                path = ("services", service_name, "checks", check_name, "alert", "severity")
                faults.append(source.fault(path, problem))
    rules = data.get("alerts")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        severity = _mapping(rule).get("severity")
        if isinstance(severity, str) and (problem := scheme.problem(severity)):
            faults.append(source.fault(("alerts", i, "severity"), problem))
    return faults + _escalation_faults(source, data, levels)


def _escalation_faults(source: Source, data: dict[str, Any], levels: dict[str, Any]) -> list[ConfigFault]:
    """A level's ``escalation`` names a policy under ``oncall: escalation:`` when there is one."""
    policies = _mapping(_mapping(data.get("oncall")).get("escalation"))
    if not policies:
        return []
    faults = []
    for level, settings in levels.items():
        policy = _mapping(settings).get("escalation")
        if isinstance(policy, str) and policy not in policies:
            known = ", ".join(map(str, policies))
            faults.append(
                source.fault(
                    ("severities", level, "escalation"),
                    f"unknown escalation policy {policy!r}; oncall.escalation has {known}",
                )
            )
    return faults


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}
