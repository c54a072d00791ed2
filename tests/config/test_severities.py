"""Severity schemes in the stack file: the built-in ones, tuning their levels, a custom one, and a
bad severity named as such at its line."""

from __future__ import annotations

import pytest

from vigil.config.load import parse_stack
from vigil.config.stack import StackFile
from vigil.errors import ConfigError
from vigil.incidents.scheme import DEFAULT_SCHEME, FULL_CHECKLIST, SchemeName


def faults(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack("vigil.yaml", text, {})
    return [str(f) for f in err.value.faults]


def test_the_default_is_p1_to_p4_and_the_old_response_key_still_sets_the_acknowledge_target() -> None:
    stack = parse_stack("vigil.yaml", "severities:\n  P1: {response: 10m}\nservices: {}\n", {}).model
    scheme = stack.scheme
    assert scheme.name is SchemeName.P
    assert scheme.names == ("P1", "P2", "P3", "P4")
    assert [level.acknowledge for level in scheme.levels] == [600.0, 3600.0, 4 * 3600.0, 86400.0]
    assert scheme.levels[0].resolve == 4 * 3600.0  # kept from the built-in level
    assert all(level.pages for level in scheme.levels)
    assert scheme.levels[0].checklist == FULL_CHECKLIST
    assert stack.response_seconds("P1") == 600.0


def test_a_built_in_alternative_is_picked_by_name_and_tuned_level_by_level() -> None:
    text = """
severity_scheme: SEV
severities:
  SEV1: {acknowledge: 5m, resolve: 1h, escalation: all-hands, checklist: [Open a bridge, Page the lead]}
  SEV4: {pages: true, description: Next business day}
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/", alert: {severity: SEV1}}
alerts:
  - {name: Down, expr: up == 0, severity: critical}
  - {name: Slow, expr: up == 0, severity: warning}
"""
    stack = parse_stack("vigil.yaml", text, {}).model
    sev1, _, sev3, sev4 = stack.scheme.levels
    assert (sev1.name, sev1.acknowledge, sev1.resolve, sev1.escalation) == (
        "SEV1",
        300.0,
        3600.0,
        "all-hands",
    )
    assert sev1.checklist == ("Open a bridge", "Page the lead")
    assert (
        stack.scheme.escalation("SEV1"),
        stack.scheme.escalation("SEV2"),
        stack.scheme.escalation("P1"),
    ) == (
        "all-hands",
        None,
        None,
    )
    assert (sev4.pages, sev4.description) == (True, "Next business day")
    # Prometheus' words map onto the scheme: critical → the first level, warning → the third.
    assert stack.level(stack.alerts[0].severity).name == "SEV1"
    assert stack.level(stack.alerts[1].severity).name == sev3.name == "SEV3"


def test_the_named_scheme_and_its_levels_that_do_not_page() -> None:
    stack = parse_stack("vigil.yaml", "severity_scheme: named\nservices: {}\n", {}).model
    assert stack.scheme.names == ("critical", "high", "medium", "low")
    assert [level.pages for level in stack.scheme.levels] == [True, True, True, False]
    assert stack.level(None).name == "high"  # the second level is the default


def test_a_custom_scheme_is_exactly_its_levels_in_file_order() -> None:
    text = """
severity_scheme: custom
severities:
  emergency: {acknowledge: 2m, resolve: 30m}
  urgent: {response: 10m}
  later: {acknowledge: 1d, pages: false}
services: {}
"""
    scheme = parse_stack("vigil.yaml", text, {}).model.scheme
    assert scheme.names == ("emergency", "urgent", "later")
    assert [level.rank for level in scheme.levels] == [1, 2, 3]
    assert scheme.pick("info").name == "later"  # info → the last level
    assert scheme.pick("warning").name == "later"  # the third, here also the last
    assert scheme.pick(None).name == "urgent"


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("critical", "P1"),
        ("page", "P1"),
        ("error", "P2"),
        ("warning", "P3"),
        ("info", "P4"),
        ("p1", "P1"),
        ("P4", "P4"),
        ("something", "P2"),
        (None, "P2"),
    ],
)
def test_a_received_alerts_severity_label_maps_onto_the_default_scheme(value: str | None, level: str) -> None:
    assert DEFAULT_SCHEME.pick(value).name == level


def test_a_level_the_scheme_lacks_is_named_as_an_unknown_severity_at_its_line() -> None:
    text = """severities:
  critical: {response: 15m}
services:
  api:
    checks:
      health:
        http: http://127.0.0.1:9/
        alert: {severity: P7}
alerts:
  - name: Down
    expr: up == 0
    severity: SEV1
"""
    assert faults(text) == [
        "vigil.yaml:2:3: severities.critical: unknown severity; the scheme has P1, P2, P3, P4",
        "vigil.yaml:8:27: services.api.checks.health.alert.severity: unknown severity 'P7'; "
        "the scheme has P1, P2, P3, P4 (or Prometheus' critical, warning, info)",
        "vigil.yaml:12:15: alerts[0].severity: unknown severity 'SEV1'; "
        "the scheme has P1, P2, P3, P4 (or Prometheus' critical, warning, info)",
    ]


def test_a_level_in_the_wrong_case_is_refused_with_a_hint() -> None:
    text = "services:\n  api:\n    checks:\n      h: {http: 'http://x/', alert: {severity: p1}}\n"
    [fault] = faults(text)
    assert fault.endswith(
        "unknown severity 'p1'; the scheme has P1, P2, P3, P4 (or Prometheus' critical, "
        "warning, info); did you mean 'P1'?"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "severity_scheme: sev\n",
            "vigil.yaml:1:18: severity_scheme: must be 'P', 'SEV', 'named' or 'custom'",
        ),
        (
            "severity_scheme: custom\n",
            "vigil.yaml:1:18: severity_scheme: a custom scheme needs its levels under severities:, most severe first",
        ),
        (
            "severity_scheme: custom\nseverities:\n  urgent: {resolve: 1h}\n",
            "vigil.yaml:3:3: severities.urgent: a level of a custom scheme needs acknowledge: (e.g. 15m)",
        ),
        (
            "severities:\n  P1: {response: 5m, acknowledge: 5m}\n",
            "vigil.yaml:2:7: severities.P1: give acknowledge or response (its earlier name), not both",
        ),
        (
            "severities:\n  P1: {resolve: 0s}\n",
            "vigil.yaml:2:7: severities.P1: resolve must be longer than 0s",
        ),
        (
            "severities:\n  P1: {escalation: nobody}\noncall:\n  escalation: {default: {}}\n",
            "vigil.yaml:2:20: severities.P1.escalation: unknown escalation policy 'nobody'; oncall.escalation has default",
        ),
    ],
)
def test_a_bad_scheme_is_one_clear_line(text: str, expected: str) -> None:
    assert expected in faults(text + "services: {}\n")


def test_a_stack_file_made_in_code_is_held_to_its_scheme_too() -> None:
    with pytest.raises(ValueError, match=r"alerts\.0\.severity: unknown severity 'P9'"):
        StackFile.model_validate({"alerts": [{"name": "X", "expr": "up == 0", "severity": "P9"}]})
