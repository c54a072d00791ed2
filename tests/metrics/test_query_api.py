"""The query API's reading of Prometheus' parameters and its spelling of values, times and labels."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest

from vigil.metrics import query_api
from vigil.metrics.query_params import ErrorType, QueryAPIError, parse_duration, parse_time


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2"), (-0.0, "-0"), (0.1, "0.1"), (1e21, "1000000000000000000000"), (1.5e-10, "0.00000000015")],
)
def test_format_value_matches_gos_f_minus_one(value: float, text: str) -> None:
    assert query_api.format_value(value) == text


def test_times_keep_milliseconds_as_prometheus_writes_them() -> None:
    assert [query_api.format_time(t) for t in (12.0, 12.5, 12.05, -1.25)] == [
        "12",
        "12.500",
        "12.050",
        "-1.250",
    ]


def test_labels_with_quotes_and_non_ascii_survive_the_hand_written_json() -> None:
    text = query_api._metric({"path": 'a"b\\c', "city": "Zürich"})
    assert json.loads(text) == {"city": "Zürich", "path": 'a"b\\c'}


READS = [
    (parse_time, "1700000000", 1700000000.0),
    (parse_time, "1700000000.1234", 1700000000.123),
    (parse_time, "2026-12-02T01:00:00Z", 1796173200.0),
    (parse_time, "2026-12-02T02:00:00.5+01:00", 1796173200.5),
    (parse_duration, "15", 15.0),
    (parse_duration, "0.5", 0.5),
    (parse_duration, "15s", 15.0),
    (parse_duration, "1h30m", 5400.0),
    (parse_duration, "500ms", 0.5),
    (parse_duration, "1w2d", 777600.0),
    (parse_duration, "0", 0.0),
]
TIME_FAULTS = ["", "now", "1_000", "2026-12-02", "2026-12-02T01:00:00", "NaN", "1e400"]
DURATION_FAULTS = ["", "1.5h", "15 s", "m", "1m1h", "1e300"]


@pytest.mark.parametrize(("parse", "text", "seconds"), READS)
def test_times_and_durations_read_as_prometheus_reads_them(
    parse: Callable[[str, str], float], text: str, seconds: float
) -> None:
    assert parse(text, "start") == seconds


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_time, t) for t in TIME_FAULTS] + [(parse_duration, t) for t in DURATION_FAULTS],
)
def test_others_are_bad_data_naming_the_parameter(parse: Callable[[str, str], float], text: str) -> None:
    with pytest.raises(QueryAPIError, match='invalid parameter "start"') as raised:
        parse(text, "start")
    assert raised.value.error_type is ErrorType.BAD_DATA and raised.value.status_code == 400


@pytest.mark.parametrize(
    "values",
    [[1.0, 10.0, 100.5, 0.05, -3.0, 20.25], [1.0, math.nan, math.inf, 1e-7, 5.0, -0.0], [1e22, 2.0, 0.0]],
)
def test_a_series_points_are_written_as_each_value_alone(values: list[float]) -> None:
    points = [(1000.0 + 15 * i, v) for i, v in enumerate(values)]
    stamps = {t: f"[{query_api.format_time(t)}," + '"' for t, _ in points}
    expected = ",".join(f'[{query_api.format_time(t)},"{query_api.format_value(v)}"]' for t, v in points)
    assert query_api._points(points, stamps) == expected
