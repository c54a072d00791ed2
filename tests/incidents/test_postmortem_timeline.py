"""A postmortem's timeline tells the story: Vigil's repeated lines are written once with how
often and until when, a person's lines never fold, deliveries are left out, and an escalation's
pages read as who was paged, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.incidents.model import EventKind, TimelineEntry
from vigil.incidents.postmortem_timeline import LIMIT, Page, condensed, pages

START = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def at(minutes: float, kind: EventKind, text: str, actor: str | None = "vigil") -> TimelineEntry:
    return TimelineEntry(START + timedelta(minutes=minutes), kind, text, actor)


def hhmm(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def paged(minutes: float, who: str, source: str, step: int, round_: int = 1) -> TimelineEntry:
    return at(
        minutes,
        EventKind.ESCALATED,
        f"paged {who}{source} via mailto://… (step {step} of 3, round {round_} of 2, policy default)",
    )


def test_a_dependent_check_failing_and_passing_all_outage_long_is_two_lines_not_two_hundred() -> None:
    entries = [at(0, EventKind.TRIGGERED, "postgres.ping failed 3 times in a row: connection refused")]
    for n in range(100):
        entries.append(
            at(1 + n * 0.4, EventKind.SYMPTOM, f"api.health fails too (timed out after {n % 7 + 3}s)")
        )
        entries.append(at(1.2 + n * 0.4, EventKind.SYMPTOM, "api.health passes again"))
        entries.append(at(1.2 + n * 0.4, EventKind.NOTIFIED, "triggered sent to hook"))
    entries.append(at(45, EventKind.RESOLVED, "resolved by vigil"))

    shown, more = condensed(entries, hhmm)

    assert more == 0
    assert [(line["text"], line["times"], line["until"]) for line in shown] == [
        ("postgres.ping failed 3 times in a row: connection refused", 1, None),
        ("api.health fails too (timed out after 3s)", 100, "11:10"),
        ("api.health passes again", 100, "11:10"),
        ("resolved by vigil", 1, None),
    ]


def test_peoples_lines_never_fold_and_escalation_pages_read_without_their_scheme() -> None:
    entries = [
        paged(0, "alice", " (schedule primary)", 1),
        at(2, EventKind.NOTE, "restarting the pool", "bob"),
        at(3, EventKind.NOTE, "restarting the pool", "bob"),
        paged(15, "bob", " (schedule secondary)", 2),
        paged(45, "alice", " (schedule primary)", 1, round_=2),
    ]
    shown, _ = condensed(entries, hhmm)
    assert [(line["text"], line["times"]) for line in shown] == [
        ("paged alice (schedule primary), step 1 of 3", 2),
        ("restarting the pool", 1),
        ("restarting the pool", 1),
        ("paged bob (schedule secondary), step 2 of 3", 1),
    ]


def test_a_timeline_past_the_limit_says_how_many_more_lines_there_were() -> None:
    entries = [at(n, EventKind.NOTE, f"note {n}", "bob") for n in range(LIMIT + 7)]
    shown, more = condensed(entries, hhmm)
    assert (len(shown), more) == (LIMIT, 7)


def test_the_pages_are_who_was_paged_first_in_order_with_how_often() -> None:
    entries = [
        paged(0, "alice", " (schedule primary)", 1),
        at(0, EventKind.ESCALATED, "paged ops (channel) (step 1 of 3, round 1 of 2, policy default)"),
        paged(15, "bob", " (schedule secondary)", 2),
        paged(30, "carol", "", 3),
        paged(45, "alice", " (schedule primary)", 1, round_=2),
        at(
            50,
            EventKind.ESCALATED,
            "not paged: schedule primary has nobody on call (step 1 of 3, round 2 of 2, policy default)",
        ),
    ]
    found, policy = pages(entries)
    assert policy == "default"
    assert found == [
        Page("alice", "schedule primary", 1, START, 2),
        Page("ops", "channel", 1, START, 1),
        Page("bob", "schedule secondary", 2, START + timedelta(minutes=15), 1),
        Page("carol", None, 3, START + timedelta(minutes=30), 1),
    ]
    assert pages([at(0, EventKind.TRIGGERED, "paged alice by hand")]) == ([], None)
