"""``OnCall`` over the issue's stack file: who is on call, how to reach them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.oncall.stacks import ISSUE_EXAMPLE
from vigil.config.load import parse_stack
from vigil.errors import NotFoundError
from vigil.oncall.service import OnCall


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def oncall() -> OnCall:
    return OnCall(parse_stack("vigil.yaml", ISSUE_EXAMPLE, {}))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-02-10T12:00:00", ["erin"]),  # the override
        ("2026-02-09T08:59:59", ["alice"]),  # week 5 (from 2026-02-02), before the handoff
        ("2026-02-09T09:00:00", ["bob"]),  # 09:00 GMT is 09:00 UTC in February
        ("2026-02-11T00:00:00", ["bob"]),  # the override has ended
        ("2026-01-05T08:59:59", []),  # before the first shift
        ("2026-01-05T09:00:00", ["alice"]),
    ],
)
def test_the_issue_example_answers_who_is_on_call(oncall: OnCall, at: str, expected: list[str]) -> None:
    assert oncall.who("primary", utc(at)) == expected


def test_contacts_resolve_a_schedule_to_whoever_is_on_call_and_a_person_to_them(oncall: OnCall) -> None:
    at = utc("2026-02-03T12:00:00")
    assert oncall.contacts("schedule:primary", at) == [("alice", "mailto://alice@example.com")]
    assert oncall.contacts("person:erin", at) == [("erin", "mailto://erin@example.com")]
    assert oncall.contacts("channel:ops", at) == []


def test_an_unknown_schedule_or_person_is_not_found_with_the_names_known(oncall: OnCall) -> None:
    with pytest.raises(NotFoundError, match="the schedules are: primary"):
        oncall.who("secondary", utc("2026-02-03T12:00:00"))
    with pytest.raises(NotFoundError, match="no person 'zed'"):
        oncall.contacts("person:zed", utc("2026-02-03T12:00:00"))
