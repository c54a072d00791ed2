"""The alert state machine on evaluation times: pending, firing after ``for``, kept firing for
``keep_firing_for``, resolved; one instance per label set."""

from __future__ import annotations

import re

from vigil.alerting.alerts import AlertState, RuleAlerts, fingerprint
from vigil.config.alerts import AlertRule


def rule(**fields: object) -> AlertRule:
    return AlertRule.model_validate({"name": "HighErrorRate", "expr": "x > 0.05", **fields})


def test_an_alert_is_pending_until_it_has_held_for_its_for_duration() -> None:
    alerts = RuleAlerts(rule(**{"for": "5m", "severity": "P1"}))
    sample = [({"__name__": "x", "path": "/api"}, 0.07)]
    assert alerts.update(sample, 0) == []
    [alert] = alerts.active.values()
    assert alert.state is AlertState.PENDING
    assert dict(alert.labels) == {"path": "/api", "alertname": "HighErrorRate", "severity": "P1"}
    assert alerts.update(sample, 240) == []
    [fired] = alerts.update(sample, 300)
    assert (fired.to, fired.alert.fired_at, fired.alert.active_at) == (AlertState.FIRING, 300, 0)
    assert alerts.update(sample, 315) == []


def test_a_pending_alert_that_stops_holding_never_fires_or_resolves() -> None:
    alerts = RuleAlerts(rule(**{"for": "5m"}))
    alerts.update([({"path": "/a"}, 1.0)], 0)
    assert alerts.update([], 60) == []
    assert alerts.active == {}


def test_without_for_an_alert_fires_at_its_first_evaluation_and_resolves_when_gone() -> None:
    alerts = RuleAlerts(rule())
    [fired] = alerts.update([({"path": "/a"}, 1.0)], 0)
    assert fired.to is AlertState.FIRING
    [resolved] = alerts.update([], 15)
    assert (resolved.to, resolved.alert.resolved_at) == (AlertState.RESOLVED, 15)


def test_keep_firing_for_holds_a_flapping_alert() -> None:
    alerts = RuleAlerts(rule(keep_firing_for="1m"))
    alerts.update([({"path": "/a"}, 1.0)], 0)
    assert alerts.update([], 30) == []
    assert alerts.update([({"path": "/a"}, 1.0)], 45) == []
    assert alerts.update([], 90) == []
    [resolved] = alerts.update([], 106)
    assert resolved.to is AlertState.RESOLVED


def test_each_label_set_is_its_own_alert_with_a_stable_fingerprint() -> None:
    alerts = RuleAlerts(rule(labels={"team": "web"}))
    transitions = alerts.update([({"path": "/a"}, 1.0), ({"path": "/b"}, 2.0)], 0)
    assert len(transitions) == 2
    prints = {t.alert.fingerprint for t in transitions}
    assert len(prints) == 2
    labels = {"path": "/a", "team": "web", "alertname": "HighErrorRate", "severity": "P2"}
    assert fingerprint(labels) in prints
    assert fingerprint(dict(reversed(list(labels.items())))) in prints


def test_annotations_are_rendered_with_the_alert_s_labels_and_value() -> None:
    alerts = RuleAlerts(
        rule(annotations={"summary": "{{ $labels.path }} at {{ $value | humanizePercentage }}"})
    )
    [fired] = alerts.update([({"path": "/a"}, 0.125)], 0)
    assert fired.alert.annotations == {"summary": "/a at 12.5%"}


def test_different_label_values_never_share_a_group_key() -> None:
    alerts = RuleAlerts(rule(group_by=["a", "b"]))
    alerts.update([({"a": "x,b=y", "b": ""}, 1.0), ({"a": "x", "b": "y,b="}, 1.0)], 0)
    keys = {alerts.group_key(alert) for alert in alerts.active.values()}
    assert len(keys) == 2
    assert all(re.fullmatch(r"alert:HighErrorRate:[0-9a-f]+", key) for key in keys)
    # Labels outside group_by do not split a group; a missing label is an empty one.
    alerts.update([({"a": "x", "c": "1"}, 1.0), ({"a": "x", "b": "", "c": "2"}, 1.0)], 15)
    assert len({alerts.group_key(alert) for alert in alerts.active.values()}) == 1


def test_label_values_with_separator_characters_have_their_own_fingerprint() -> None:
    assert fingerprint({"a": "1\x00b\x012"}) != fingerprint({"a": "1", "b": "2"})
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
