"""Prometheus rule files: what Vigil exports passes the real ``promtool check rules`` and
imports back to the same rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vigil.alerting.promfile import alerts_yaml, export_rules, import_rules
from vigil.config.load import parse_stack
from vigil.errors import ConfigError

STACK = """
alerts:
  - name: HighErrorRate
    expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
    for: 5m
    severity: P1
    annotations: {summary: "Error rate {{ $value | humanizePercentage }}"}
    runbook: runbooks/production.md#issue-502-bad-gateway
  - name: SlowP95
    expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 2
    for: 10m
    keep_firing_for: 1m
    labels: {team: web}
  - name: QueueBacklog
    expr: demo_queue_depth > 100
"""


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run scripts/install-peers.sh (Debian's prometheus package)")
    return found


def test_an_exported_rule_file_passes_promtool_and_imports_back_unchanged(tmp_path: Path) -> None:
    rules = parse_stack("vigil.yaml", STACK, {}).model.alerts
    exported = tmp_path / "vigil.rules.yml"
    exported.write_text(export_rules(rules, interval=15))
    check = subprocess.run(
        [promtool(), "check", "rules", str(exported)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 3 rules found" in check.stdout
    imported, skipped = import_rules(str(exported), exported.read_text())
    assert skipped == []
    assert imported == rules
    again = parse_stack("vigil.yaml", alerts_yaml(imported), {}).model.alerts
    assert again == rules


def test_recording_rules_are_skipped_with_a_note_and_severity_words_map_to_levels() -> None:
    text = """
groups:
  - name: app
    rules:
      - record: job:errors:rate5m
        expr: sum by (job) (rate(errors_total[5m]))
      - alert: Down
        expr: up == 0
        labels: {severity: critical}
        annotations: {runbook_url: "https://runbooks/down"}
"""
    [rule], skipped = import_rules("app.rules.yml", text)
    assert skipped == ["groups[0].rules[0]: recording rule 'job:errors:rate5m' skipped"]
    assert (rule.name, str(rule.severity), rule.runbook, rule.labels) == (
        "Down",
        "P1",
        "https://runbooks/down",
        {},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: [\n", "invalid YAML"),
        ("rules: []\n", "top-level groups: list"),
        (
            "groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        for: soon\n",
            "not a duration",
        ),
    ],
)
def test_a_broken_rule_file_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        import_rules("bad.yml", text)
