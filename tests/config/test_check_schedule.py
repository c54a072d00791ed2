"""A check's cron ``schedule`` and its time zone, as the stack file writes them."""

from __future__ import annotations

import pytest

from vigil.config.load import parse_stack
from vigil.errors import ConfigError


def faults(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", text, {})
    return str(caught.value).splitlines()


def test_a_schedule_and_its_zone_are_read() -> None:
    text = "services:\n  db:\n    checks:\n      restore:\n        tcp: 127.0.0.1:5432\n"
    text += "        schedule: '0 3 * * *'\n        timezone: Europe/London\n"
    [spec] = parse_stack("vigil.yaml", text, {}).specs()
    assert (spec.config.schedule, spec.config.timezone) == ("0 3 * * *", "Europe/London")


def test_every_and_schedule_together_are_an_error_naming_the_check() -> None:
    text = "services:\n  db:\n    checks:\n      restore:\n        tcp: 127.0.0.1:5432\n"
    text += "        every: 1h\n        schedule: '0 3 * * *'\n"
    assert faults(text)[0].startswith(
        "vigil.yaml:5:9: services.db.checks.restore: give every or schedule, not both"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'0 25 * * *'", "'0 25 * * *' is not a cron expression"),
        ("'0 3 * *'", "it needs 5 fields"),
    ],
)
def test_a_bad_cron_expression_is_a_fault_at_its_line(value: str, message: str) -> None:
    text = f"services:\n  db:\n    checks:\n      restore:\n        tcp: 127.0.0.1:5432\n        schedule: {value}\n"
    [fault] = faults(text)[:1]
    assert fault.startswith("vigil.yaml:6:19: services.db.checks.restore.schedule: ")
    assert message in fault


def test_an_unknown_time_zone_is_a_fault_at_its_line() -> None:
    text = "services:\n  db:\n    checks:\n      restore:\n        tcp: 127.0.0.1:5432\n"
    text += "        schedule: '0 3 * * *'\n        timezone: Europe/Lundon\n"
    assert faults(text)[0].startswith(
        "vigil.yaml:7:19: services.db.checks.restore.timezone: unknown time zone"
    )
