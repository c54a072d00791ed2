"""Which escalation policy an incident follows: its severity level's, else ``default``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vigil.config.load import parse_stack
from vigil.oncall.escalation import policy_for

STACK = """
people:
  alice: {notify: ["mailto://alice@example.com"]}
oncall:
  schedules:
    primary:
      timezone: UTC
      rotation: {every: 1w, handoff: "mon 09:00", start: 2026-01-05}
      members: [alice]
  escalation:
    default:
      steps: [{notify: ["schedule:primary"], wait: 15m}]
    urgent:
      steps: [{notify: ["person:alice"], wait: 5m}]
severities:
  P1: {escalation: urgent}
services: {}
"""


@pytest.mark.parametrize(("severity", "policy"), [("P1", "urgent"), ("P2", "default"), ("P4", "default")])
def test_a_level_that_names_a_policy_follows_it_and_the_others_follow_default(
    severity: str, policy: str
) -> None:
    stack = parse_stack("vigil.yaml", STACK, {}).model
    assert policy_for(stack, SimpleNamespace(severity=severity)) == policy  # type: ignore[arg-type]


def test_without_a_default_an_unnamed_level_does_not_escalate() -> None:
    stack = parse_stack(
        "vigil.yaml",
        STACK.replace('    default:\n      steps: [{notify: ["schedule:primary"], wait: 15m}]\n', ""),
        {},
    ).model
    assert policy_for(stack, SimpleNamespace(severity="P2")) is None  # type: ignore[arg-type]
    assert policy_for(stack, SimpleNamespace(severity="P1")) == "urgent"  # type: ignore[arg-type]
