"""Annotation templates: the Go-template subset that Prometheus rule files use."""

from __future__ import annotations

import pytest

from vigil.alerting.template import TemplateError, check, render


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("Error rate {{ $value | humanizePercentage }}", 0.0734, "Error rate 7.34%"),
        ("{{ $labels.instance }} is down", 0.0, "api:8080 is down"),
        ('p95 {{ printf "%.2f" $value }}s', 2.3456, "p95 2.35s"),
        ("{{ $value | humanize }} requests", 12345.0, "12.35k requests"),
        ("up for {{ $value | humanizeDuration }}", 3725.0, "up for 1h 2m 5s"),
        ("p95 {{ $value | humanizeDuration }}", 1.4712, "p95 1.471s"),
        ("p95 {{ $value | humanizeDuration }}", 0.25, "p95 250ms"),
        ("{{ $value | humanizeDuration }}", 90061.0, "1d 1h 1m 1s"),
        ("{{$value}}", 0.5, "0.5"),
        ("missing {{ $labels.nope }}.", 1.0, "missing ."),
        ("no template", 1.0, "no template"),
    ],
)
def test_templates_render_like_prometheus(template: str, value: float, expected: str) -> None:
    assert render(template, {"instance": "api:8080"}, value) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ $value | toUpper }}", "unsupported template function 'toUpper'"),
        ("{{ .Annotations.x }}", "unsupported template expression"),
    ],
)
def test_templates_outside_the_subset_are_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        check(template)
