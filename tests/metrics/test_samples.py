"""What becomes a sample: check results, and the labels Prometheus puts on a scraped sample."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.metrics.samples import result_samples, target_labels, whole_ms, with_target_labels
from vigil.probes.base import Result

STARTED = datetime(2026, 1, 1, 12, 0, 0, 123_987, tzinfo=UTC)


def result(ok: bool = True, values: dict[str, float] | None = None) -> Result:
    return Result("api.health", ok, 250.0, STARTED, None if ok else "status 503", values or {})


def test_a_passing_result_gives_up_1_and_its_duration_in_seconds() -> None:
    base = {"service": "api", "check": "health", "kind": "http"}
    assert result_samples(result(), "http") == [
        ({"__name__": "vigil_check_up", **base}, 1767268800.123, 1.0),
        ({"__name__": "vigil_check_duration_seconds", **base}, 1767268800.123, 0.25),
    ]


def test_a_failing_result_gives_up_0_and_keeps_the_values_it_measured() -> None:
    samples = result_samples(result(False, {"connect_ms": 3.0}), "postgres")
    assert [(labels["__name__"], labels.get("value"), value) for labels, _, value in samples] == [
        ("vigil_check_up", None, 0.0),
        ("vigil_check_duration_seconds", None, 0.25),
        ("vigil_check_value", "connect_ms", 3.0),
        ("vigil_postgres_connect_seconds", None, 0.003),
    ]


def test_a_value_its_kind_declares_is_also_a_sample_under_its_documented_name() -> None:
    samples = result_samples(result(values={"connections_used_ratio": 0.9, "query_ms": 2.0}), "postgres")
    named = {labels["__name__"]: (labels, value) for labels, _, value in samples}
    base = {"service": "api", "check": "health", "kind": "postgres"}
    assert named["vigil_postgres_connections_used_ratio"] == (
        {"__name__": "vigil_postgres_connections_used_ratio", **base},
        0.9,
    )
    assert named["vigil_postgres_query_seconds"][1] == 0.002  # a *_ms value in seconds


def test_a_labelled_metric_takes_its_label_from_the_value_name_after_the_dot() -> None:
    values = {"list_length.queue:a": 7.0, "list_length.b.c": 1.0, "used_memory": 5.0}
    samples = result_samples(result(values=values), "redis")
    lists = {
        labels["list"]: value
        for labels, _, value in samples
        if labels["__name__"] == "vigil_redis_list_length"
    }
    assert lists == {"queue:a": 7.0, "b.c": 1.0}
    # A value no metric declares (a watched INFO field) is a vigil_check_value sample only.
    names = [labels["__name__"] for labels, _, _ in samples]
    assert names.count("vigil_check_value") == 3
    assert len(names) == 2 + 3 + 2


def test_a_kind_that_declares_no_metrics_or_is_unknown_gives_vigil_check_value_only() -> None:
    for kind in ("command", "unknown"):
        samples = result_samples(result(values={"exit_code": 1.0}), kind)
        assert [labels["__name__"] for labels, _, _ in samples][2:] == ["vigil_check_value"]


def test_each_probe_value_is_one_series_of_vigil_check_value_named_by_a_label() -> None:
    samples = result_samples(result(values={"status_code": 200.0, "p95-ms": 12.5}), "http")
    values = {
        labels["value"]: value for labels, _, value in samples if labels["__name__"] == "vigil_check_value"
    }
    assert values == {"status_code": 200.0, "p95-ms": 12.5}


@pytest.mark.parametrize(
    ("exposed", "expected"),
    [
        # No clash: the target's labels are simply added.
        ({"__name__": "m", "path": "/"}, {"__name__": "m", "path": "/", "job": "api", "instance": "h:80"}),
        # A clash keeps the exposed value as exported_<name>.
        (
            {"__name__": "m", "job": "j", "instance": "i"},
            {
                "__name__": "m",
                "job": "api",
                "instance": "h:80",
                "exported_job": "j",
                "exported_instance": "i",
            },
        ),
        # ...and goes one prefix further when exported_<name> is exposed too (seen on Prometheus 2.42).
        (
            {"__name__": "m", "job": "j", "exported_job": "e"},
            {
                "__name__": "m",
                "job": "api",
                "instance": "h:80",
                "exported_job": "e",
                "exported_exported_job": "j",
            },
        ),
        # An empty exposed label is no clash.
        ({"__name__": "m", "job": ""}, {"__name__": "m", "job": "api", "instance": "h:80"}),
    ],
)
def test_target_labels_win_and_clashing_exposed_labels_become_exported(
    exposed: dict[str, str], expected: dict[str, str]
) -> None:
    assert with_target_labels(exposed, {"job": "api", "instance": "h:80"}) == expected


@pytest.mark.parametrize(
    ("url", "instance"),
    [
        ("http://127.0.0.1:8080/metrics", "127.0.0.1:8080"),
        ("http://api.internal/metrics", "api.internal:80"),
        ("https://api.internal/metrics", "api.internal:443"),
        ("http://[::1]:9100/metrics", "[::1]:9100"),
    ],
)
def test_the_instance_is_host_and_port_as_prometheus_2_writes_it(url: str, instance: str) -> None:
    assert target_labels("api", url, {}) == {"job": "api", "instance": instance}


def test_static_labels_are_added_and_may_name_the_instance() -> None:
    labels = target_labels("api", "http://h/metrics", {"env": "prod", "instance": "api-1"})
    assert labels == {"job": "api", "instance": "api-1", "env": "prod"}


@pytest.mark.parametrize(
    ("t", "expected"),
    [(1.999999, 1.999), (1767268800.123987, 1767268800.123), (1795626291.957, 1795626291.957)],
)
def test_times_are_cut_to_whole_milliseconds_as_prometheus_stores_them(t: float, expected: float) -> None:
    assert whole_ms(t) == expected
