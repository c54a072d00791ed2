"""The importer's readers one at a time: conditions, windows, box diagrams and curl commands as
runbooks write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.importer.drafting import drafted
from vigil.config.load import parse_stack
from vigil.runbooks.importer.boxes import connections
from vigil.runbooks.importer.curl import requests
from vigil.runbooks.importer.document import Fence, Place
from vigil.runbooks.importer.draft import validated
from vigil.runbooks.importer.model import AlertDraft, StackDraft
from vigil.runbooks.importer.thresholds import read


@pytest.mark.parametrize(
    ("text", "subject", "op", "value", "unit", "hold", "times"),
    [
        ("Error rate > 5% for 5 min", "error rate", ">", 5, "%", 300, None),
        ("p95 latency > 2 seconds for 5 minutes", "p95 latency", ">", 2, "s", 300, None),
        ("p95 latency over 500ms for 10 min", "p95 latency", ">", 0.5, "s", 600, None),
        ("Memory/CPU over 90% sustained for >5 minutes", "memory/cpu", ">", 90, "%", 300, None),
        ("Queue depth > 100 tasks", "queue depth", ">", 100, "", 0, None),
        ("Free memory below 512 MiB for 1h", "free memory", "<", 512 * 1024**2, "bytes", 3600, None),
        ("Health check fails 3x", "health check fails 3x", ">", None, "", 0, 3),
        (
            "Health check failing for 2 minutes",
            "health check failing for 2 minutes",
            ">",
            None,
            "",
            120,
            None,
        ),
    ],
)
def test_a_condition_is_read_into_its_parts(
    text: str, subject: str, op: str, value: float | None, unit: str, hold: float, times: int | None
) -> None:
    condition = read(text)
    assert (condition.subject, condition.op, condition.unit, condition.hold, condition.times) == (
        subject,
        op,
        unit,
        hold,
        times,
    )
    assert condition.value == pytest.approx(value) if value is not None else condition.value is None


@pytest.mark.parametrize(
    ("prose", "cron", "duration", "zone"),
    [
        ("Recommended Time: Sundays 2:00 AM - 4:00 AM UTC (lowest traffic)", "0 2 * * SUN", 7200, "UTC"),
        ("Maintenance: every Tuesday 22:00-23:30 CET", "0 22 * * TUE", 5400, "Europe/Berlin"),
        ("Maintenance window Monday-Friday 11 PM - 1 AM ET", "0 23 * * MON-FRI", 7200, "America/New_York"),
        ("Nightly maintenance 3:30 - 4:00", "30 3 * * *", 1800, "UTC"),
        ("Downtime on Saturdays and Sundays 6 - 8 am Europe/Paris", "0 6 * * SAT,SUN", 7200, "Europe/Paris"),
    ],
)
def test_a_window_stated_in_prose_becomes_a_cron_a_duration_and_a_zone(
    tmp_path: Path, prose: str, cron: str, duration: float, zone: str
) -> None:
    model, _ = drafted(tmp_path, f"# Ops\n\n## Maintenance\n\n{prose}\n")
    (window,) = model.maintenance.windows
    assert (window.cron, window.duration, window.timezone) == (cron, duration, zone)


def test_hours_outside_maintenance_are_no_window(tmp_path: Path) -> None:
    model, _ = drafted(tmp_path, "# Support\n\nWe answer Monday-Friday 9:00 - 17:00 UTC.\n")
    assert model.maintenance.windows == []


def test_a_part_that_does_not_validate_is_left_out_with_a_comment_saying_why(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, "# Ops\n\nMaintenance window: Sundays 2:00 - 4:00 Mars/Olympus\n")
    assert model.maintenance.windows == []
    assert "Not drafted: maintenance.windows[0].timezone: unknown time zone 'Mars/Olympus'" in text


def test_a_hand_drawn_box_a_column_off_is_still_a_box_and_its_arrows_edges() -> None:
    diagram = (
        "┌──────────┐\n"
        "│  Web      │\n"  # one column too wide, as real diagrams are
        "└────┬─────┘\n"
        "     │ calls\n"
        "     ▼\n"
        "┌──────────┐   ┌───────┐\n"
        "│  API     │◄──│ Cron  │\n"
        "└──────────┘   └───────┘\n"
    )
    boxes, edges = connections(diagram)
    assert [b.text for b in boxes] == ["Web", "API", "Cron"]
    assert [(a.text, b.text) for a, b in edges] == [("Web", "API"), ("Cron", "API")]


def test_a_line_that_joins_one_box_to_nothing_is_no_edge() -> None:
    _, edges = connections("+-----+\n| db  |\n+-----+\n   |\n   +---- OpenAI\n")
    assert edges == []


def fence(code: str) -> Fence:
    return Fence(1, "bash", code, Place(None, (), ""))


def test_curl_commands_are_read_as_requests_and_those_with_a_body_are_not_checks() -> None:
    code = (
        "# Check health\n"
        "curl -sf -H 'Authorization: Bearer $TOKEN' \\\n"
        "  https://api.example.com/health#top | jq .\n"
        "curl -X POST https://api.example.com/login -d 'user=a'\n"
        "curl -I -k https://web.example.com\n"
        'railway run "curl http://inside/health"\n'
    )
    found = list(requests(fence(code)))
    assert [(r.method, r.url, r.line) for r in found] == [
        ("GET", "https://api.example.com/health#top", 3),
        ("HEAD", "https://web.example.com", 6),
    ]
    assert found[0].headers == {"Authorization": "Bearer $TOKEN"} and found[0].comment == "Check health"
    assert found[1].insecure


def test_the_json_a_runbook_says_to_expect_is_read_even_with_a_trailing_comma() -> None:
    code = 'curl localhost:8080/health\n\n# Expected response:\n{\n  "status": "ok",\n}\n'
    (request,) = requests(fence(code))
    assert request.url == "http://localhost:8080/health"
    assert request.expected == {"status": "ok"}


def test_an_alert_rule_that_does_not_validate_is_left_out_and_the_others_stand() -> None:
    draft = StackDraft("ops.md", "Ops")
    draft.alerts = [
        AlertDraft({"name": "Broken", "expr": "rate(", "severity": "P1"}, 3, "ops.md:3: broken"),
        AlertDraft({"name": "Fine", "expr": "up == 0", "severity": "P2"}, 4, "ops.md:4: fine"),
    ]
    text = validated(draft)
    model = parse_stack("vigil.yaml", text, environ={}).model
    assert [rule.name for rule in model.alerts] == ["Fine"]
    assert "# ops.md: Not drafted: alerts[0].expr:" in text
