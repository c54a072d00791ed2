"""The dashboard's time filters write durations as the rest of Vigil does (``1h 05m``, ``2d 3h``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.server.templating import ago, until

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
