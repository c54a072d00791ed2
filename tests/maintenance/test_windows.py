"""Maintenance windows: cron schedules in their own time zone, and windows started by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.quiet import QuietRules
from vigil.alerting.silences import QuietError
from vigil.config.maintenance import MaintenanceSettings, WindowSettings
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError, NotFoundError
from vigil.maintenance.windows import MaintenanceService, Schedule, WindowSource

WEEKLY = {"name": "weekly", "cron": "0 2 * * SUN", "duration": "2h", "timezone": "UTC"}
SUNDAY = datetime(2026, 1, 4, tzinfo=UTC)  # a Sunday


def schedule(**overrides: Any) -> Schedule:
    return Schedule(WindowSettings.model_validate({**WEEKLY, **overrides}))


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (at(SUNDAY, 1, 59), False),
        (at(SUNDAY, 2), True),  # a window starting exactly now has started
        (at(SUNDAY, 3), True),
        (at(SUNDAY, 3, 59), True),
        (at(SUNDAY, 4), False),  # and one ending exactly now has ended
        (at(SUNDAY - timedelta(days=1), 3), False),  # Saturday
        (at(SUNDAY + timedelta(days=7), 3), True),  # the next Sunday
    ],
)
def test_a_weekly_window_is_active_sundays_from_two_to_four_utc(now: datetime, active: bool) -> None:
    assert schedule().window(now).active(now) is active


def test_outside_its_run_a_schedule_names_its_next_one() -> None:
    window = schedule().window(at(SUNDAY, 5))
    assert (window.starts_at, window.ends_at) == (
        at(SUNDAY, 2) + timedelta(days=7),
        at(SUNDAY, 4) + timedelta(days=7),
    )
    assert window.source is WindowSource.SCHEDULE
    assert window.schedule == "0 2 * * SUN UTC"


def test_a_schedule_asked_again_and_again_gives_the_same_answers_across_runs() -> None:
    weekly = schedule()
    moments = [SUNDAY + timedelta(minutes=17 * i) for i in range(2000)]
    fresh = [schedule().window(m).active(m) for m in moments]
    assert [weekly.window(m).active(m) for m in moments] == fresh
    assert any(fresh) and not all(fresh)


@pytest.mark.parametrize(
    ("now", "active"),
    [
        # Winter (CET, UTC+1): 04:00 Berlin is 03:00 UTC.
        (datetime(2026, 3, 22, 2, 30, tzinfo=UTC), False),
        (datetime(2026, 3, 22, 3, 30, tzinfo=UTC), True),
        # 29 March 2026 the clocks go forward; summer (CEST, UTC+2): 04:00 Berlin is 02:00 UTC.
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), False),
        (datetime(2026, 3, 29, 2, 30, tzinfo=UTC), True),
        (datetime(2026, 3, 29, 4, 30, tzinfo=UTC), False),
        # 25 October 2026 they go back: 04:00 Berlin is 03:00 UTC again.
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), False),
        (datetime(2026, 10, 25, 3, 30, tzinfo=UTC), True),
    ],
)
def test_a_berlin_window_keeps_its_local_hour_across_daylight_saving_changes(
    now: datetime, active: bool
) -> None:
    berlin = schedule(cron="0 4 * * SUN", duration="2h", timezone="Europe/Berlin")
    assert berlin.window(now).active(now) is active


def test_a_start_skipped_by_the_spring_change_happens_when_the_clocks_jump() -> None:
    berlin = schedule(cron="30 2 * * SUN", duration="1h", timezone="Europe/Berlin")
    window = berlin.window(datetime(2026, 3, 29, 1, 10, tzinfo=UTC))
    assert window.starts_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST


def runs_between(window_schedule: Schedule, start: datetime, hours: int) -> list[tuple[datetime, datetime]]:
    """Every run that is active at some minute from ``start`` on, asked minute by minute."""
    runs: list[tuple[datetime, datetime]] = []
    for minute in range(hours * 60):
        now = start + timedelta(minutes=minute)
        window = window_schedule.window(now)
        if window.active(now) and (window.starts_at, window.ends_at) not in runs:
            runs.append((window.starts_at, window.ends_at))
    return runs


def test_a_start_in_the_hour_the_autumn_change_repeats_runs_once() -> None:
    # 25 October 2026, 03:00 CEST becomes 02:00 CET: 02:30 Berlin comes at 00:30 and 01:30 UTC.
    berlin = schedule(cron="30 2 * * SUN", duration="30m", timezone="Europe/Berlin")
    assert runs_between(berlin, datetime(2026, 10, 24, 22, tzinfo=UTC), 6) == [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    ]
    assert not berlin.window(datetime(2026, 10, 25, 1, 45, tzinfo=UTC)).active(
        datetime(2026, 10, 25, 1, 45, tzinfo=UTC)
    )
    # The week after, and the next run named during the second 02:30, are ordinary.
    assert berlin.window(datetime(2026, 10, 25, 1, 35, tzinfo=UTC)).starts_at == datetime(
        2026, 11, 1, 1, 30, tzinfo=UTC
    )


def test_an_hourly_schedule_runs_through_both_goes_of_the_repeated_hour() -> None:
    # The repeated hour passes twice in real time; an hourly window covers both, as cron does.
    hourly = schedule(cron="0 * * * *", duration="10m", timezone="Europe/Berlin")
    starts = [start for start, _ in runs_between(hourly, datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 3)]
    assert starts == [datetime(2026, 10, 25, hour, tzinfo=UTC) for hour in (0, 1, 2)]


def test_a_start_the_spring_change_skips_runs_exactly_once() -> None:
    berlin = schedule(cron="30 2 * * SUN", duration="30m", timezone="Europe/Berlin")
    assert runs_between(berlin, datetime(2026, 3, 28, 22, tzinfo=UTC), 6) == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:00 CEST
    ]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("cron", "0 25 * * *", "is not a cron expression"),
        ("cron", "0 2 * *", "needs 5 fields"),
        ("cron", "0 0 2 * * SUN", "needs 5 fields"),
        ("timezone", "Europe/Nowhere", "unknown time zone"),
        ("duration", "soon", "is not a duration"),
        ("duration", "0s", "longer than 0s"),
        ("name", "no spaces", "should match pattern"),
        ("matchers", {"bad-label": "x"}, "is not a label name"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(field: str, value: Any, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MaintenanceSettings.model_validate({"windows": [{**WEEKLY, field: value}]})
    [error] = caught.value.errors()
    assert error["loc"][:3] == ("windows", 0, field)
    assert says in error["msg"]


def test_window_names_are_unique_and_shortcuts_like_weekly_are_cron_too() -> None:
    with pytest.raises(ValidationError, match="two windows are named 'weekly'"):
        MaintenanceSettings.model_validate({"windows": [WEEKLY, WEEKLY]})
    assert (
        MaintenanceSettings.model_validate({"windows": [{**WEEKLY, "cron": "@weekly"}]}).windows[0].cron
        == "@weekly"
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(SUNDAY, 3))


def rules(engine: AsyncEngine, clock: FakeClock, **window: Any) -> QuietRules:
    settings = MaintenanceSettings.model_validate({"windows": [{**WEEKLY, **window}]})
    return QuietRules(engine, settings, clock)


async def test_during_a_window_matching_alerts_do_not_page(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = rules(engine, clock, matchers={"service": "api"})
    assert (
        await quiet.reason({"service": "api"}, clock.now()) == "maintenance window weekly (until 04:00 UTC)"
    )
    assert await quiet.reason({"service": "db"}, clock.now()) is None
    assert await quiet.reason({"service": "api"}, at(SUNDAY, 4)) is None
    state = await quiet.active()
    assert [w.name for w in state.windows] == ["weekly"]
    assert state.until(state.windows[0].ends_at) == "04:00 UTC"


async def test_a_window_without_matchers_quiets_every_alert(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = rules(engine, clock)
    assert await quiet.reason({}, clock.now()) == "maintenance window weekly (until 04:00 UTC)"


async def test_a_window_started_by_hand_quiets_until_it_is_stopped(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    await clock.advance(3 * 3600)  # 06:00, after the weekly window
    quiet = rules(engine, clock)
    window = await quiet.maintenance.start(
        "db-upgrade", duration=3600, started_by="ana", matchers=["service=~db|postgres"], comment="v16"
    )
    assert (window.source, window.started_by, window.ends_at) == (WindowSource.MANUAL, "ana", at(SUNDAY, 7))
    assert (
        await quiet.reason({"service": "postgres"}, clock.now())
        == "maintenance window db-upgrade (until 07:00 UTC)"
    )
    assert await quiet.reason({"service": "api"}, clock.now()) is None
    listed = await quiet.maintenance.list()
    assert [(w.name, w.active(clock.now())) for w in listed] == [("db-upgrade", True), ("weekly", False)]
    await clock.advance(600)
    stopped = await quiet.maintenance.stop("db-upgrade", "ben")
    assert stopped.ends_at == clock.now()
    assert await quiet.reason({"service": "postgres"}, clock.now()) is None
    assert [w.name for w in await quiet.maintenance.list()] == ["weekly"]


async def test_a_window_ends_by_itself_when_its_time_is_up(engine: AsyncEngine, clock: FakeClock) -> None:
    service = MaintenanceService(engine, MaintenanceSettings(), clock)
    await service.start("deploy", duration=600, started_by="ana")
    await clock.advance(600)
    assert await service.manual(clock.now()) == []
    await service.start("deploy", duration=600, started_by="ana")  # the name is free again


@pytest.mark.parametrize(
    ("name", "error", "says"),
    [
        ("weekly", ConflictError, "scheduled window in the stack file"),
        ("db upgrade", QuietError, "is not a window name"),
    ],
)
async def test_a_window_that_cannot_start_says_why(
    engine: AsyncEngine, clock: FakeClock, name: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        await rules(engine, clock).maintenance.start(name, duration=600, started_by="ana")


async def test_starting_a_window_that_is_on_is_a_conflict(engine: AsyncEngine, clock: FakeClock) -> None:
    service = MaintenanceService(engine, MaintenanceSettings(), clock)
    await service.start("deploy", duration=600, started_by="ana")
    with pytest.raises(ConflictError, match="already on"):
        await service.start("deploy", duration=600, started_by="ben")


async def test_stopping_a_window_that_is_not_on_is_not_found(engine: AsyncEngine, clock: FakeClock) -> None:
    quiet = rules(engine, clock)
    with pytest.raises(NotFoundError, match="no window 'deploy'"):
        await quiet.maintenance.stop("deploy", "ana")
    with pytest.raises(NotFoundError, match="change its cron there"):
        await quiet.maintenance.stop("weekly", "ana")


async def test_a_bad_matcher_on_a_window_is_refused(engine: AsyncEngine, clock: FakeClock) -> None:
    service = MaintenanceService(engine, MaintenanceSettings(), clock)
    with pytest.raises(QuietError, match="is not a matcher"):
        await service.start("deploy", duration=600, started_by="ana", matchers=["service"])


async def test_a_window_started_on_a_clock_with_an_offset_is_stored_at_its_instant(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # Started where the clock reads 05:00+02:00, read where it reads 03:00 UTC: the same instant.
    cest = FakeClock(clock.now().astimezone(timezone(timedelta(hours=2))))
    started = await MaintenanceService(engine, MaintenanceSettings(), cest).start(
        "deploy", duration=3600, started_by="ana"
    )
    assert (started.starts_at, started.ends_at) == (at(SUNDAY, 3), at(SUNDAY, 4))
    service = MaintenanceService(engine, MaintenanceSettings(), clock)
    [window] = await service.manual(clock.now())
    assert (window.starts_at, window.ends_at) == (at(SUNDAY, 3), at(SUNDAY, 4))
    assert window.active(clock.now())
    assert await service.manual(at(SUNDAY, 4)) == []
