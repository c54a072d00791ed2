"""The stack file's update template, pager channels, group windows and flapping: faults at their lines."""

from __future__ import annotations

import pytest

from vigil.config.load import parse_stack
from vigil.errors import ConfigError


def faults(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", text, {})
    return [str(fault) for fault in caught.value.faults]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ incdent.title }}", "unknown name 'incdent'; a template may use incident, status, text"),
        ("{% for x in %}", "line 1: Expected an expression"),
        ('{% include "other" %}', "a template stands alone"),
    ],
)
def test_a_bad_update_template_is_a_fault_at_its_line(template: str, message: str) -> None:
    text = f"notify:\n  templates:\n    update: '{template}'\n"
    [fault] = faults(text)
    assert fault.startswith("vigil.yaml:3:13: notify.templates.update: ") and message in fault


def test_a_pager_cannot_take_a_group_window() -> None:
    text = "notify:\n  channels:\n    pd: {pagerduty: {routing_key: k}, group_wait: 30s}\n"
    [fault] = faults(text)
    assert fault.startswith("vigil.yaml:3:9: notify.channels.pd: pagerduty keeps one alert per incident")


def test_pager_settings_are_checked() -> None:
    text = "notify:\n  channels:\n    og: {opsgenie: {api_key: k, region: asia}}\n"
    [fault] = faults(text)
    assert "notify.channels.og.opsgenie.region" in fault and "'us' or 'eu'" in fault


@pytest.mark.parametrize(
    ("flapping", "message"),
    [
        ("{changes: 1}", "flapping.changes: must be greater than or equal to 2"),
        ("{within: 0s}", "flapping.within: must be greater than or equal to 1"),
        ("{within: 1m, stable: 1h}", "stable is more than ten times within"),
    ],
)
def test_bad_flapping_settings_are_faults(flapping: str, message: str) -> None:
    [fault] = faults(f"flapping: {flapping}\n")
    assert message in fault and fault.startswith("vigil.yaml:1:")


def test_the_defaults_keep_todays_behaviour() -> None:
    stack = parse_stack("vigil.yaml", "notify:\n  channels: {hook: {webhook: 'http://x/y'}}\n", {})
    assert stack.model.flapping is None
    assert (
        stack.model.notify.channels["hook"].group_wait == 0
        and not stack.model.notify.channels["hook"].grouped
    )
    assert stack.model.postmortem.folder == "docs/incidents" and stack.model.notify.templates.update is None
