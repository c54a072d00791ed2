"""Silences: Alertmanager's matcher semantics, and silences kept in a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.quiet import QuietRules
from vigil.alerting.silences import Matcher, MatchOp, QuietError, SilenceService, SilenceState
from vigil.config.maintenance import MaintenanceSettings
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, NotFoundError

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
API_P1 = {"service": "api", "severity": "P1", "alertname": "HighErrorRate"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("service=api", API_P1, True),
        ("service=db", API_P1, False),
        ("service!=db", API_P1, True),
        ("service!=api", API_P1, False),
        ("severity=~P[12]", API_P1, True),
        ("severity=~P[12]", {"severity": "P3"}, False),
        ("severity=~P[12]", {"severity": "P12"}, False),  # anchored at the end
        ("severity=~[12]", API_P1, False),  # anchored at the start
        ("alertname=~High.*|Low.*", API_P1, True),
        ("severity!~P[12]", API_P1, False),
        ("severity!~P[12]", {"severity": "P4"}, True),
        ("team=", API_P1, True),  # a missing label reads as the empty string
        ("team!=", API_P1, False),
        ("team=~.*", API_P1, True),
        ("team=~.+", API_P1, False),
        ("team!=ops", API_P1, True),
        ('env="prod eu"', {"env": "prod eu"}, True),
        (" service = api ", API_P1, True),
    ],
)
def test_matchers_follow_alertmanager_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("a=b", MatchOp.EQ, "b"),
        ("a!=b", MatchOp.NE, "b"),
        ("a=~b+", MatchOp.RE, "b+"),
        ("a!~b", MatchOp.NRE, "b"),
    ],
)
def test_each_operator_is_read_from_its_text(text: str, op: MatchOp, value: str) -> None:
    matcher = Matcher.parse(text)
    assert (matcher.name, matcher.op, matcher.value) == ("a", op, value)
    assert str(matcher) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("service", "is not a matcher"),
        ("=api", "is not a matcher"),
        ("1service=api", "is not a matcher"),
        ("severity=~P[12", "not a regular expression"),
        ('env="prod', "not a matcher"),
    ],
)
def test_a_malformed_matcher_says_how_to_write_one(text: str, says: str) -> None:
    with pytest.raises(QuietError, match=says):
        Matcher.parse(text)


def test_an_unknown_operator_is_refused_by_name() -> None:
    with pytest.raises(QuietError, match="unknown matcher operator '=='"):
        Matcher.build("service", "==", "api")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def silences(engine: AsyncEngine, clock: FakeClock) -> SilenceService:
    return SilenceService(engine, clock)


async def test_a_silence_is_active_from_its_start_until_its_end(
    silences: SilenceService, clock: FakeClock
) -> None:
    made = await silences.create(["service=api"], comment="deploy", created_by="ana", duration=7200)
    assert (made.starts_at, made.ends_at) == (START, START + timedelta(hours=2))
    stored = await silences.get(made.id)
    assert stored == made
    assert stored.state(clock.now()) is SilenceState.ACTIVE
    assert stored.state(START + timedelta(hours=2)) is SilenceState.EXPIRED


async def test_the_list_shows_active_and_pending_silences_and_expired_ones_only_on_request(
    silences: SilenceService, clock: FakeClock
) -> None:
    later = START + timedelta(hours=1)
    pending = await silences.create(
        ["service=db"],
        comment="migration",
        created_by="ana",
        starts_at=later,
        ends_at=later + timedelta(hours=1),
    )
    active = await silences.create(["service=api"], comment="deploy", created_by="ana", duration=600)
    await clock.advance(900)
    assert [s.id for s in await silences.list()] == [pending.id]
    assert [s.id for s in await silences.list(include_expired=True)] == [active.id, pending.id]
    assert pending.state(clock.now()) is SilenceState.PENDING


async def test_expiring_ends_a_silence_now_and_a_second_expiry_is_a_conflict(
    silences: SilenceService, clock: FakeClock
) -> None:
    made = await silences.create(["service=api"], comment="deploy", created_by="ana", duration=7200)
    await clock.advance(60)
    expired = await silences.expire(made.id)
    assert expired.ends_at == clock.now()
    assert (await silences.get(made.id)).state(clock.now()) is SilenceState.EXPIRED
    with pytest.raises(ConflictError, match="already ended"):
        await silences.expire(made.id)


async def test_expiring_a_pending_silence_ends_it_before_it_ever_began(silences: SilenceService) -> None:
    later = START + timedelta(days=1)
    made = await silences.create(
        ["service=api"], comment="tomorrow", created_by="ana", starts_at=later, duration=3600
    )
    expired = await silences.expire(made.id)
    assert expired.starts_at == expired.ends_at == START


async def test_expiring_an_unknown_silence_is_not_found(silences: SilenceService) -> None:
    with pytest.raises(NotFoundError, match="no silence 999"):
        await silences.expire(999)


@pytest.mark.parametrize(
    ("matchers", "times", "says"),
    [
        ([], {"duration": 60}, "between 1 and 50 matchers"),
        (["service!=api"], {"duration": 60}, "would silence everything"),
        (["team=~.*"], {"duration": 60}, "would silence everything"),
        (["service=api"], {}, "either an end time or a duration"),
        (["service=api"], {"duration": 60, "ends_at": START + timedelta(hours=1)}, "either an end time"),
        (["service=api"], {"duration": 0}, "longer than 0s"),
        (
            ["service=api"],
            {"ends_at": START - timedelta(hours=1), "starts_at": START - timedelta(hours=2)},
            "already past",
        ),
        (
            ["service=api"],
            {"ends_at": START + timedelta(hours=1), "starts_at": START + timedelta(hours=2)},
            "must come after",
        ),
    ],
)
async def test_a_silence_that_cannot_be_is_refused_with_the_reason(
    silences: SilenceService, matchers: list[str], times: dict[str, object], says: str
) -> None:
    with pytest.raises(QuietError, match=says):
        await silences.create(matchers, comment="x", created_by="ana", **times)  # type: ignore[arg-type]
    assert await silences.list(include_expired=True) == []


async def test_a_silence_needs_a_comment(silences: SilenceService) -> None:
    with pytest.raises(QuietError, match="needs a comment"):
        await silences.create(["service=api"], comment="  ", created_by="ana", duration=60)


async def test_quiet_rules_name_the_silence_that_stops_a_page(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = QuietRules(engine, MaintenanceSettings(), clock)
    made = await quiet.silences.create(
        ["service=api", "severity=~P[12]"], comment="deploy\nof v2", created_by="ana", duration=7200
    )
    assert await quiet.reason(API_P1, clock.now()) == f"silenced by #{made.id} (deploy, until 14:00 UTC)"
    assert await quiet.reason({**API_P1, "severity": "P3"}, clock.now()) is None
    assert await quiet.reason({"service": "db"}, clock.now()) is None
    assert await quiet.reason(API_P1, START + timedelta(hours=2)) is None
    await quiet.silences.expire(made.id)
    assert await quiet.reason(API_P1, clock.now()) is None  # its own change is seen at once


async def test_a_silence_ending_on_another_day_names_the_date(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = QuietRules(engine, MaintenanceSettings(), clock)
    await quiet.silences.create(["service=api"], comment="long job", created_by="ana", duration=2 * 86400)
    assert await quiet.reason(API_P1, clock.now()) == "silenced by #1 (long job, until 2026-03-04 12:00 UTC)"


async def test_quiet_rules_read_the_store_about_once_a_second(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = QuietRules(engine, MaintenanceSettings(), clock)
    elsewhere = SilenceService(engine, clock)  # another Vigil instance, or the CLI
    assert await quiet.reason(API_P1, clock.now()) is None
    await elsewhere.create(["service=api"], comment="deploy", created_by="ana", duration=3600)
    assert await quiet.reason(API_P1, clock.now()) is None
    await clock.advance(1.0)
    assert await quiet.reason(API_P1, clock.now()) is not None
    state = await quiet.active()
    assert [s.comment for s in state.silences] == ["deploy"]


async def test_a_silence_given_in_another_offset_ends_at_that_instant(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # 13:00+02:00 and 16:00+02:00 are 11:00 and 14:00 UTC, not 13:00 and 16:00 UTC.
    quiet = QuietRules(engine, MaintenanceSettings(), clock)
    made = await quiet.silences.create(
        ["service=api"],
        comment="deploy",
        created_by="ana",
        starts_at=datetime(2026, 3, 2, 13, 0, tzinfo=CEST),
        ends_at=datetime(2026, 3, 2, 16, 0, tzinfo=CEST),
    )
    stored = await quiet.silences.get(made.id)
    assert (stored.starts_at, stored.ends_at) == (START - timedelta(hours=1), START + timedelta(hours=2))
    assert stored.ends_at.utcoffset() == timedelta(0)
    assert made == stored
    assert await quiet.reason(API_P1, clock.now()) == f"silenced by #{made.id} (deploy, until 14:00 UTC)"

    await clock.advance(2.5 * 3600)
    assert await quiet.reason(API_P1, clock.now()) is None
    assert await quiet.silences.list() == []
    assert stored.state(clock.now()) is SilenceState.EXPIRED


async def test_a_silence_time_without_a_zone_is_refused(silences: SilenceService) -> None:
    with pytest.raises(QuietError, match="no time zone"):
        await silences.create(
            ["service=api"], comment="deploy", created_by="ana", ends_at=datetime(2026, 3, 2, 16, 0)
        )
