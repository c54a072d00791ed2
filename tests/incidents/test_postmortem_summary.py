"""A postmortem's summary in a person's sentences: the window in words, who was paged and who
answered against the target, and how it ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vigil.incidents.model import Incident
from vigil.incidents.postmortem_summary import day, spoken, summary
from vigil.incidents.postmortem_timeline import Page
from vigil.incidents.severity import IncidentStatus

START = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
TARGETS = (15 * 60.0, 4 * 3600.0)
OPEN = Incident(
    1,
    "check:api.health",
    "api.health is failing",
    IncidentStatus.TRIGGERED,
    "P1",
    "api",
    "api.health",
    "status 500, expected 200",
    [],
    START,
    START + timedelta(minutes=15),
)


def later(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def acknowledged(by: str, minutes: float) -> Incident:
    return replace(
        OPEN, status=IncidentStatus.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=later(minutes)
    )


def resolved(incident: Incident, by: str, minutes: float) -> Incident:
    return replace(incident, status=IncidentStatus.RESOLVED, resolved_by=by, resolved_at=later(minutes))


PAGES = [
    Page("alice", "schedule primary", 1, START, 1),
    Page("bob", "schedule secondary", 2, later(1), 1),
    Page("carol", None, 3, later(2), 1),
]


def test_an_escalation_answered_by_the_secondary_then_resolved_by_vigil() -> None:
    incident = resolved(acknowledged("bob", 1.5), "vigil", 3)
    assert summary(incident, later(3), TARGETS, PAGES[:2]) == (
        "api.health failed (status 500, expected 200) from 10:30 UTC on Thursday 15 January 2026 until "
        "10:33 UTC, 3 minutes in all. alice (schedule primary) was paged first; nobody answered, so the "
        "escalation went on to bob (schedule secondary), and bob acknowledged it after 1 minute, within "
        "the P1 target of 15 minutes. Vigil resolved it when api.health passed again."
    )


def test_the_primary_answering_at_once() -> None:
    incident = acknowledged("alice", 0.75)
    assert summary(incident, later(5), TARGETS, PAGES[:1]) == (
        "api.health failed (status 500, expected 200) from 10:30 UTC on Thursday 15 January 2026; the "
        "incident is still open, 5 minutes on. alice (schedule primary) was paged and acknowledged it "
        "after 45 seconds, within the P1 target of 15 minutes."
    )


def test_nobody_answering_and_a_person_resolving_late_the_next_day() -> None:
    incident = resolved(OPEN, "dave", 26 * 60)
    assert summary(incident, later(26 * 60), TARGETS, PAGES) == (
        "api.health failed (status 500, expected 200) from 10:30 UTC on Thursday 15 January 2026 until "
        "12:30 UTC on Friday 16 January 2026, 1 day 2 hours in all. alice (schedule primary), bob "
        "(schedule secondary) and carol were paged; nobody acknowledged it. dave resolved it after "
        "1 day 2 hours, 22 hours past the P1 target of 4 hours."
    )


def test_an_alert_incident_acknowledged_on_the_dashboard_without_an_escalation() -> None:
    incident = replace(
        resolved(acknowledged("erin", 20), "vigil", 30), key="alert:HighErrorRate:ab12", check=None
    )
    assert summary(incident, later(30), TARGETS, []).endswith(
        "erin acknowledged it after 20 minutes, 5 minutes past the P1 target of 15 minutes. "
        "Vigil resolved it when the alert HighErrorRate stopped firing."
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (2520, "42 minutes"),
        (3600, "1 hour"),
        (3900, "1 hour 5 minutes"),
        (86400, "1 day"),
        (183_600, "2 days 3 hours"),
    ],
)
def test_durations_in_words(seconds: float, words: str) -> None:
    assert spoken(seconds) == words


def test_a_day_reads_the_same_under_any_locale() -> None:
    assert day(datetime(2026, 12, 1, tzinfo=UTC)) == "Tuesday 1 December 2026"
