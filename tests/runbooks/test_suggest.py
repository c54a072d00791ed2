"""Suggestions on an incident: the section its check or rule names first, then the best ranked
by what the incident says (alert name, labels, title, the probe's reason), three at most."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.runbooks.shared import ECHO, TEXTBOOK, shared_runbook
from vigil.config.load import Stack, parse_stack
from vigil.incidents.model import EventKind, Incident, TimelineEntry
from vigil.incidents.severity import IncidentStatus, Severity
from vigil.runbooks.library import Library, load_library
from vigil.runbooks.parse import read_runbook
from vigil.runbooks.suggest import Suggestions, rule_name, trigger_text

OPS = """\
# Ops

## Health endpoints

| Endpoint | Expect |
|---|---|
| /health | 200 healthy, database connection ok |

## Issue: Database connection errors

**Symptoms:** `connection refused` from the api.

```bash
psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity"
```

## Issue: High error rate

```bash
curl -sS http://127.0.0.1:8080/metrics
```

## Issue: Slow responses

```bash
curl -sS -o /dev/null -w '%{time_total}' http://127.0.0.1:8080/
```

## Restart the api

```bash
echo restarting
```
"""

STACK = """
runbooks: [runbooks/*.md]
services:
  api:
    checks:
      health:
        http: http://127.0.0.1:9/health
        runbook: ops.md#restart-the-api
      ready: {http: "http://127.0.0.1:9/ready"}
alerts:
  - name: HighErrorRate
    expr: up == 0
    runbook: runbooks/ops.md#issue-high-error-rate
  - name: SlowP95
    expr: up == 0
"""

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(OPS)
    return parse_stack(str(tmp_path / "vigil.yaml"), STACK, {})


@pytest.fixture
def suggestions(stack: Stack) -> Suggestions:
    return Suggestions(load_library(stack), stack.model)


def incident(
    key: str,
    title: str,
    reason: str | None = None,
    check: str | None = None,
    number: int = 1,
    service: str = "api",
) -> Incident:
    return Incident(
        number, key, title, IncidentStatus.TRIGGERED, Severity.P1, service, check, reason, [], NOW, NOW
    )


def ids(found: list[object]) -> list[str]:
    return [s.section.id for s in found]  # type: ignore[attr-defined]


def test_the_section_a_check_names_comes_first_then_the_best_ranked(suggestions: Suggestions) -> None:
    failing = incident("check:api.health", "api.health is failing", "connection refused", "api.health")
    found = suggestions.for_incident(failing, "api.health failed 3 times in a row: connection refused")
    assert ids(found)[0] == "runbooks/ops.md#restart-the-api"
    assert found[0].why == "named by the check api.health" and found[0].score is None
    assert ids(found)[1] == "runbooks/ops.md#issue-database-connection-errors"
    assert found[1].why.startswith("matches ") and "connection" in found[1].why
    assert len(found) == 3


def test_the_section_an_alert_rule_names_comes_first(suggestions: Suggestions) -> None:
    firing = incident("alert:HighErrorRate:0f1e", "Error rate 12%", "Error rate 12%")
    trigger = "HighErrorRate firing (service=api): value 0.12; runbook: runbooks/ops.md#issue-high-error-rate"
    found = suggestions.for_incident(firing, trigger)
    assert ids(found)[0] == "runbooks/ops.md#issue-high-error-rate"
    assert found[0].why == "named by alert HighErrorRate"
    assert ids(found).count("runbooks/ops.md#issue-high-error-rate") == 1  # named, not again ranked


def test_an_alert_name_is_read_as_its_words(suggestions: Suggestions) -> None:
    slow = incident("alert:SlowP95:77", "SlowP95")
    assert (
        ids(suggestions.for_incident(slow, "SlowP95 firing: value 2.5"))[0]
        == "runbooks/ops.md#issue-slow-responses"
    )


def test_procedures_are_preferred_over_prose_with_the_same_words(suggestions: Suggestions) -> None:
    raw = [hit.section.slug for hit in suggestions.index.search("healthy database", 5)]
    assert raw == ["health-endpoints", "issue-database-connection-errors"]  # by BM25 alone, prose first
    found = ids(suggestions.for_incident(incident("key:1", "healthy database", service="web"), None))
    assert found == ["runbooks/ops.md#issue-database-connection-errors", "runbooks/ops.md#health-endpoints"]


def test_an_incident_with_no_matching_words_gets_nothing(suggestions: Suggestions) -> None:
    odd = incident("check:web.ready", "zzz", "qqq", "web.ready", service="web")
    assert suggestions.for_incident(odd, None) == []


def test_suggestions_are_cached_per_incident_and_the_cache_is_bounded(stack: Stack) -> None:
    suggestions = Suggestions(load_library(stack), stack.model, cached=2)
    first = incident("check:api.health", "database connection", check="api.health", number=1)
    found = suggestions.for_incident(first, None)
    assert suggestions.for_incident(first, None) is found
    for number in (2, 3):
        suggestions.for_incident(incident("check:api.ready", "slow", number=number), None)
    assert len(suggestions._cache) == 2
    assert suggestions.for_incident(first, None) is not found  # worked out again: it had been dropped


def test_no_runbooks_no_suggestions(stack: Stack) -> None:
    empty = Suggestions(Library(), stack.model)
    assert (
        empty.for_incident(incident("check:api.health", "api.health is failing", check="api.health"), None)
        == []
    )
    assert empty.for_page(incident("check:api.health", "x"), None) == []


def test_a_page_carries_id_title_and_why(suggestions: Suggestions) -> None:
    failing = incident("check:api.health", "api.health is failing", "connection refused", "api.health")
    [first, *_] = suggestions.for_page(failing, None)
    assert first == {
        "id": "runbooks/ops.md#restart-the-api",
        "title": "Restart the api",
        "why": "named by the check api.health",
    }


def test_the_rule_and_the_trigger_are_read_off_the_incident() -> None:
    assert rule_name(incident("alert:HighErrorRate:abc", "x")) == "HighErrorRate"
    assert rule_name(incident("check:api.health", "x")) is None
    assert rule_name(incident("alertmanager:abc", "x")) is None
    timeline = [
        TimelineEntry(NOW, EventKind.NOTE, "a note"),
        TimelineEntry(NOW, EventKind.TRIGGERED, "api.health failed"),
    ]
    assert trigger_text(timeline) == "api.health failed"
    assert trigger_text([]) is None


@pytest.mark.parametrize(
    ("title", "reason", "wanted"),
    [
        (
            "Database connection errors",
            "connection refused",
            "textbook-rag-runbook.md#issue-database-connection-errors",
        ),
        (
            "api.health is failing",
            "status 502, expected 200",
            "textbook-rag-runbook.md#issue-502-bad-gateway",
        ),
    ],
)
def test_the_shared_runbooks_rank_the_issue_first(
    title: str, reason: str, wanted: str, tmp_path: Path
) -> None:
    textbook = read_runbook(shared_runbook(TEXTBOOK), "textbook-rag-runbook.md")
    echo = read_runbook(shared_runbook(ECHO), "echo-ai-runbook.md")
    stack = parse_stack(str(tmp_path / "vigil.yaml"), "services: {}", {})
    suggestions = Suggestions(Library.of([textbook, echo]), stack.model)
    failing = incident("check:api.health", title, reason, "api.health")
    found = suggestions.for_incident(failing, f"api.health failed 3 times in a row: {reason}")
    assert ids(found)[0] == wanted
    assert len(found) == 3
