from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runbooks.shared import ECHO, TEXTBOOK, shared_runbook
from vigil.errors import RunbookError
from vigil.runbooks.model import StepKind
from vigil.runbooks.parse import MAX_BYTES, parse_runbook, read_runbook
from vigil.runbooks.slug import Slugger, slug_of

RUNBOOK = """\
# Production Runbook

**Last Updated:** January 15, 2026

## Common Issues & Fixes

### Issue: "502 Bad Gateway"

**Symptoms:** Backend returns 502 errors

**Resolution:**
```bash {name=logs timeout=30s}
railway logs --service backend
```

Then check the database:

```sql {"name":"connections","db":"main"}
SELECT count(*) FROM pg_stat_activity;
```

```console
$ redis-cli ping
PONG
```

```text
not run
```

### Resolution

```mermaid
graph TD; a-->b
```

### Resolution
1. **Enable Maintenance Mode**
   ```bash
   railway variables set MAINTENANCE_MODE=true
   ```
"""


def test_sections_are_addressed_by_file_and_github_slug() -> None:
    runbook = parse_runbook(RUNBOOK, "production.md")
    ids = [s.id for s in runbook.sections]
    assert ids == [
        "production.md#production-runbook",
        "production.md#common-issues--fixes",
        "production.md#issue-502-bad-gateway",
        "production.md#resolution",
        "production.md#resolution-1",
    ]
    issue = runbook.sections[2]
    assert issue.parent == "production.md#common-issues--fixes"
    assert issue.path == ("Production Runbook", "Common Issues & Fixes", 'Issue: "502 Bad Gateway"')
    assert runbook.title == "Production Runbook"


def test_steps_are_code_blocks_in_order_with_the_prose_before_them() -> None:
    issue = parse_runbook(RUNBOOK, "production.md").sections[2]
    assert [(s.number, s.language, s.kind) for s in issue.steps] == [
        (1, "bash", StepKind.SHELL),
        (2, "sql", StepKind.SQL),
        (3, "console", StepKind.SHELL),
        (4, "text", StepKind.SHOWN),
    ]
    first, second, third, fourth = issue.steps
    assert first.explanation == "Resolution:"
    assert first.attributes.name == "logs" and first.attributes.timeout == 30.0
    assert second.explanation == "Then check the database:"
    assert second.attributes.name == "connections" and second.attributes.db == "main"
    assert third.code == "redis-cli ping\n"  # the prompt stripped, the output line dropped
    assert not fourth.runnable
    assert first.line == 12


def test_a_section_with_only_shown_blocks_is_not_a_procedure() -> None:
    runbook = parse_runbook(RUNBOOK, "production.md")
    assert not runbook.sections[3].is_procedure
    nested = runbook.sections[4]
    assert nested.is_procedure and nested.steps[0].explanation == "Enable Maintenance Mode"


def test_review_dates_are_read() -> None:
    runbook = parse_runbook(RUNBOOK + "\n*Next review: 2026-07-01*\n", "production.md")
    assert runbook.review.last_updated == dt.date(2026, 1, 15)
    assert runbook.review.next_review == dt.date(2026, 7, 1)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Monitoring & Alerting", "monitoring--alerting"),
        ('Issue: "502 Bad Gateway"', "issue-502-bad-gateway"),
        ("Standard Deployment (main branch)", "standard-deployment-main-branch"),
        ("1. Assess", "1-assess"),
        ("Re-ingest Book Content (RAG)", "re-ingest-book-content-rag"),
        ("snake_case and Ünïcode 🚀", "snake_case-and-ünïcode-"),
    ],
)
def test_slugs_follow_github(title: str, slug: str) -> None:
    assert slug_of(title) == slug


def test_repeated_headings_are_numbered() -> None:
    slugger = Slugger()
    assert [slugger("Fix"), slugger("Fix"), slugger("Fix-1"), slugger("Fix")] == [
        "fix",
        "fix-1",
        "fix-1-1",
        "fix-2",
    ]


def test_attribute_faults_are_reported_with_their_line() -> None:
    runbook = parse_runbook("# A\n\n```bash {timeout=forever confirm=maybe}\nls\n```\n", "a.md")
    assert sorted(runbook.faults) == [
        "a.md:3: confirm='maybe' is not true or false",
        "a.md:3: timeout='forever' is not a duration between 0s and 24h, e.g. 60s",
    ]
    assert runbook.sections[0].steps[0].attributes.timeout is None


def test_runme_json_attributes_keep_runme_keys() -> None:
    step = parse_runbook('# A\n```sh {"name":"x","excludeFromRunAll":"true","run":false}\nls\n```\n', "a.md")
    attributes = step.sections[0].steps[0].attributes
    assert attributes.name == "x" and attributes.exclude_from_run_all and not attributes.run


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"# A\n\xff\xfe bad\n", "a.md:2: the runbook is not UTF-8 text"),
        (b"- " * 10_000 + b"x\n", "a.md:1: lists or quotes nested deeper than 64 levels"),
        (b">" * 10_000 + b" x\n", "a.md:1: lists or quotes nested deeper than 64 levels"),
        (b"x" * (MAX_BYTES + 1), "is more than the"),
    ],
)
def test_unreadable_runbooks_get_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(RunbookError) as caught:
        parse_runbook(data, "a.md")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    with open(big, "wb") as out:
        out.truncate(50 * 1024 * 1024)
    with pytest.raises(RunbookError, match="more than the"):
        read_runbook(big)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("#`~ -*>1.{}=\"'\n\tab$<>[]|")), max_size=400))
def test_any_markdown_parses_or_fails_clearly(text: str) -> None:
    try:
        runbook = parse_runbook(text, "fuzz.md")
    except RunbookError as err:
        assert str(err).startswith("fuzz.md")
        return
    for section in runbook.sections:
        assert section.id.startswith("fuzz.md#")
        assert all(step.number == i for i, step in enumerate(section.steps, start=1))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_fail_clearly(data: bytes) -> None:
    try:
        parse_runbook(data, "fuzz.md")
    except RunbookError as err:
        assert str(err).startswith("fuzz.md")


@pytest.mark.parametrize("path", [ECHO, TEXTBOOK], ids=["echo-ai", "textbook-rag"])
def test_the_shared_runbooks_parse(path: Path) -> None:
    runbook = read_runbook(shared_runbook(path), "rb.md")
    ids = {s.id for s in runbook.sections}
    assert runbook.review.last_updated is not None
    if path == TEXTBOOK:
        assert "rb.md#issue-502-bad-gateway" in ids
        assert "rb.md#issue-database-connection-errors" in {p.id for p in runbook.procedures}
    else:
        assert "rb.md#monitoring--alerting" in ids
        kinds = {s.kind for p in runbook.procedures for s in p.steps}
        assert {StepKind.SHELL, StepKind.SQL, StepKind.PROMQL} <= kinds
