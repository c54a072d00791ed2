"""The dashboard's time filters write durations as the rest of Vigil does (``1h 05m``, ``2d 3h``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.server.templating import ago, size, until

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (45, "45s ago"),
        (3900, "1h 05m ago"),
        (171_000, "1d 23h ago"),
        (183_600, "2d 3h ago"),
        (-5, "just now"),
    ],
)
def test_ago_reads_as_people_write_it(seconds: float, shown: str) -> None:
    assert ago(NOW - timedelta(seconds=seconds), NOW) == shown
    assert ago(None, NOW) == "never"


@pytest.mark.parametrize(("seconds", "shown"), [(240, "in 4m"), (-3900, "overdue 1h 05m")])
def test_until_says_how_long_is_left_or_how_late_it_is(seconds: float, shown: str) -> None:
    assert until(NOW + timedelta(seconds=seconds), NOW) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(None, "\u2013"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_a_size_reads_in_bytes_or_the_largest_unit_it_fills(count: int | None, shown: str) -> None:
    assert size(count) == shown


def test_ago_takes_a_moment_as_the_api_writes_it() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert ago((now - timedelta(minutes=4)).isoformat(), now) == "4m ago"
