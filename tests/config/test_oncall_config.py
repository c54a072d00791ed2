"""``people:`` and ``oncall:`` in the stack file: the issue's shape loads as written, and each
mistake is told at its own line."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from tests.oncall.stacks import ISSUE_EXAMPLE
from vigil.config.load import parse_stack
from vigil.errors import ConfigError


def faults_of(text: str, name: str = "vigil.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack(name, textwrap.dedent(text), {})
    return [str(f) for f in caught.value.faults]


def test_the_issue_s_shape_loads_as_written() -> None:
    model = parse_stack("vigil.yaml", ISSUE_EXAMPLE, {}).model
    primary = model.oncall.schedules["primary"]
    assert primary.members == ["alice", "bob"]
    assert primary.rotation is not None
    assert (primary.rotation.every, primary.rotation.start) == (7 * 86400, dt.date(2026, 1, 5))
    assert primary.overrides[0].who == "erin"
    policy = model.oncall.escalation["default"]
    assert [(s.notify, s.wait) for s in policy.steps] == [(["schedule:primary"], 900), (["person:erin"], 900)]
    assert policy.repeat == 1
    assert model.people["erin"].notify == ["mailto://erin@example.com"]


PEOPLE = """
people:
  alice: {notify: ["mailto://alice@example.com"]}
  bob: {notify: ["mailto://bob@example.com"]}
notify:
  channels:
    ops: {log: true}
"""


@pytest.mark.parametrize(
    ("oncall", "expected"),
    [
        (
            """
            schedules:
              primary:
                rotation: {every: 1w, start: 2026-01-05}
                members: []
            """,
            "vigil.yaml:12:16: oncall.schedules.primary.members: a schedule needs members "
            "(or layers with members, or an ical: calendar)",
        ),
        (
            """
            schedules:
              primary: {timezone: UTC}
            """,
            "vigil.yaml:10:14: oncall.schedules.primary: a schedule needs members",
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 1w, start: 2026-01-05}
                members: [alice, bobb]
            """,
            "vigil.yaml:12:24: oncall.schedules.primary.members[1]: unknown person bobb; did you mean 'bob'?",
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 1d, start: 2026-01-05}
                members: [alice]
                overrides:
                  - {who: zed, from: "2026-02-10T00:00:00Z", to: "2026-02-11T00:00:00Z"}
            """,
            "vigil.yaml:14:17: oncall.schedules.primary.overrides[0].who: unknown person zed; "
            "the people are: alice, bob",
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 1d, start: 2026-01-05}
                members: [alice]
                overrides:
                  - {who: bob, from: "2026-02-11T00:00:00Z", to: "2026-02-10T00:00:00Z"}
            """,
            "vigil.yaml:14:11: oncall.schedules.primary.overrides[0]: the override ends "
            "(2026-02-10T00:00:00+00:00) before it starts (2026-02-11T00:00:00+00:00)",
        ),
        (
            """
            schedules:
              primary:
                timezone: Europe/Londn
                rotation: {every: 1d, start: 2026-01-05}
                members: [alice]
            """,
            "vigil.yaml:11:17: oncall.schedules.primary.timezone: unknown time zone 'Europe/Londn'; "
            "use an IANA name like UTC or Europe/London",
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 1w, handoff: "monday 9am", start: 2026-01-05}
                members: [alice]
            """,
            "vigil.yaml:11:38: oncall.schedules.primary.rotation.handoff: 'monday 9am' is not a handoff; "
            'write a weekday and a time ("mon 09:00") or a time ("09:00")',
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 1d, handoff: "mon 09:00", start: 2026-01-05}
                members: [alice]
            """,
            "vigil.yaml:11:17: oncall.schedules.primary.rotation: a handoff on a weekday ('mon 09:00') "
            'needs a rotation of whole weeks (1w, 2w); write only a time ("09:00") for a daily one',
        ),
        (
            """
            schedules:
              primary:
                rotation: {every: 5h, start: 2026-01-05}
                members: [alice]
            """,
            "vigil.yaml:11:25: oncall.schedules.primary.rotation.every: a rotation lasts whole days "
            "(1d, 1w, 2w) or hours that divide a day (1h … 12h)",
        ),
        (
            """
            escalation:
              default:
                steps:
                  - {notify: ["schedule:primry"], wait: 5m}
            """,
            "vigil.yaml:12:21: oncall.escalation.default.steps[0].notify[0]: unknown schedule primry; "
            "the schedules are: none",
        ),
        (
            """
            escalation:
              default:
                steps:
                  - {notify: ["channel:opz", "person:carol", "team:x"], wait: 5m}
            """,
            [
                "vigil.yaml:12:21: oncall.escalation.default.steps[0].notify[0]: unknown channel opz; "
                "did you mean 'ops'?",
                "vigil.yaml:12:36: oncall.escalation.default.steps[0].notify[1]: unknown person carol; "
                "the people are: alice, bob",
                "vigil.yaml:12:52: oncall.escalation.default.steps[0].notify[2]: 'team:x' is not a page "
                "target; write schedule:NAME, person:NAME or channel:NAME",
            ],
        ),
        (
            """
            escalation:
              default:
                steps:
                  - {notify: ["person:alice"]}
                  - {notify: ["channel:ops"], wait: 0s}
                repeat: 3
            """,
            "vigil.yaml:14:15: oncall.escalation.default.repeat: the policy repeats 3 times with no wait: "
            "give a step a wait (e.g. wait: 15m) so someone can acknowledge before it pages again",
        ),
    ],
)
def test_each_mistake_is_told_at_its_line(oncall: str, expected: str | list[str]) -> None:
    text = PEOPLE + "oncall:" + textwrap.indent(textwrap.dedent(oncall), "  ")
    found = faults_of(text)
    if isinstance(expected, str):
        assert len(found) == 1, found
        assert found[0].startswith(expected), found
    else:
        assert found == expected


def test_a_policy_that_waits_somewhere_may_repeat_and_one_that_does_not_repeat_need_not_wait() -> None:
    text = PEOPLE + textwrap.dedent(
        """
        oncall:
          escalation:
            waits: {steps: [{notify: ["person:alice"]}, {notify: ["person:bob"], wait: 10m}], repeat: 2}
            at-once: {steps: [{notify: ["person:alice", "person:bob", "channel:ops"]}]}
        """
    )
    assert set(parse_stack("vigil.yaml", text, {}).model.oncall.escalation) == {"waits", "at-once"}


def test_a_calendar_file_that_is_not_icalendar_is_told_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "rota.ics").write_text("name,start,end\nalice,2026-01-05,2026-01-12\n")
    text = PEOPLE + "oncall:\n  schedules:\n    imported: {ical: rota.ics}\n"
    assert faults_of(text, str(tmp_path / "vigil.yaml")) == [
        f"{tmp_path / 'vigil.yaml'}:10:22: oncall.schedules.imported.ical: rota.ics is not an iCalendar file: "
        "it does not begin with BEGIN:VCALENDAR"
    ]
    (tmp_path / "rota.ics").unlink()
    assert faults_of(text, str(tmp_path / "vigil.yaml"))[0].endswith(
        "rota.ics: cannot read the calendar: No such file or directory"
    )


def test_a_calendar_url_is_not_fetched_when_validating() -> None:
    text = PEOPLE + "oncall:\n  schedules:\n    remote: {ical: 'http://127.0.0.1:9/rota.ics'}\n"
    assert "remote" in parse_stack("vigil.yaml", text, {}).model.oncall.schedules


@pytest.mark.parametrize(
    ("restrict", "fault"),
    [
        ("mon-fri 09:00-17:00", None),
        ("sat,sun 00:00-24:00", None),
        ("22:00-06:00", None),
        ("fri-mon 18:00-09:00", None),
        ("weekdays 9-5", "is not a time window"),
        ("mon-fri 09:00-25:00", "is not a time of day"),
        ("funday 09:00-17:00", "'funday' is not a weekday"),
    ],
)
def test_restrict_windows_are_days_and_local_times(restrict: str, fault: str | None) -> None:
    text = PEOPLE + textwrap.dedent(
        f"""
        oncall:
          schedules:
            nights:
              layers:
                - rotation: {{every: 1w, start: 2026-01-05}}
                  members: [alice]
                  restrict: ["{restrict}"]
        """
    )
    if fault is None:
        parse_stack("vigil.yaml", text, {})
    else:
        (found,) = faults_of(text)
        assert "oncall.schedules.nights.layers[0].restrict" in found
        assert fault in found


@pytest.mark.parametrize(
    ("person", "message"),
    [
        ("{notify: []}", "people.carol.notify: a person needs at least one way to be paged"),
        (
            '{notify: ["carol@example.com"]}',
            "people.carol.notify[0]: a contact is an Apprise URL such as mailto://",
        ),
    ],
)
def test_a_person_is_reached_by_at_least_one_apprise_url(person: str, message: str) -> None:
    (found,) = faults_of(f"people:\n  carol: {person}\n")
    assert message in found
