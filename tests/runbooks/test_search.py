"""Ranking runbook sections by words (BM25 over SQLite FTS5), and query text that can never be
read as FTS5's query language."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.shared import ECHO, TEXTBOOK, shared_runbook
from vigil.runbooks.parse import parse_runbook, read_runbook
from vigil.runbooks.search import MAX_LIMIT, MAX_TERMS, SectionIndex, match_expression, terms

OPS = """\
# Ops

## Architecture

The api talks to PostgreSQL and Redis. Connection pooling is described in the database notes.

## Issue: Database connection errors

**Symptoms:** `connection refused`, `too many connections`.

```bash
psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity"
```

## Issue: Celery worker not processing tasks

```bash
celery -A app inspect active
redis-cli -u $REDIS_URL llen celery
```

## Issue: 502 Bad Gateway

The load balancer cannot reach the api.

```bash
curl -sS http://127.0.0.1:8080/health
```

## Weird (NEAR) "quoted" * title

Nothing to run.
"""


@pytest.fixture
def index() -> SectionIndex:
    return SectionIndex(parse_runbook(OPS, "ops.md").sections)


def ids(index: SectionIndex, query: str, limit: int = 10) -> list[str]:
    return [hit.section.id for hit in index.search(query, limit)]


def test_a_title_outranks_the_same_words_in_prose(index: SectionIndex) -> None:
    found = ids(index, "database connection")
    assert found[0] == "ops.md#issue-database-connection-errors"
    assert "ops.md#architecture" in found  # found too, for the same words in its prose, lower


def test_step_code_is_searched_so_tools_find_their_procedures(index: SectionIndex) -> None:
    assert ids(index, "redis-cli")[0] == "ops.md#issue-celery-worker-not-processing-tasks"
    assert ids(index, "pg_stat_activity")[0] == "ops.md#issue-database-connection-errors"


def test_words_are_stemmed_and_camel_case_is_split(index: SectionIndex) -> None:
    assert ids(index, "DatabaseConnectionError")[0] == "ops.md#issue-database-connection-errors"
    assert terms("HighErrorRate on api") == ["higherrorrate", "high", "error", "rate", "api"]


def test_scores_are_positive_and_best_first(index: SectionIndex) -> None:
    hits = index.search("database connection errors", 5)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_numbers_count_only_as_http_error_codes_and_stop_words_not_at_all() -> None:
    assert terms("api.health failed 3 times in a row: status 502, expected 200") == [
        "api",
        "health",
        "status",
        "502",
    ]


@pytest.mark.parametrize(
    "query",
    [
        '"database',
        'database" OR "celery',
        "database*",
        "* OR *",
        "NEAR(database connection, 2)",
        "database NEAR connection",
        "(database AND (",
        "title: database",
        "{title prose}: database",
        "^database",
        "database - connection",
        "database + connection",
        "AND OR NOT",
        "'); DROP TABLE sections; --",
        "\x00database\x00",
    ],
)
def test_fts5_syntax_in_a_query_is_only_words(index: SectionIndex, query: str) -> None:
    found = ids(index, query)  # never an sqlite3.OperationalError
    # What it finds is what its plain words find: no operator, prefix or column filter acted.
    assert found == ids(index, " ".join(terms(query)))
    if terms(query) == ["database"]:
        assert found[0] == "ops.md#issue-database-connection-errors"
    assert ids(index, "database")  # and the table is still there


def test_fts5_operators_are_searched_as_the_words_they_are(index: SectionIndex) -> None:
    assert ids(index, "NEAR") == ["ops.md#weird-near-quoted--title"]
    assert ids(index, "conn*") == []  # a prefix query would have found every "connection"
    assert ids(index, "conn") == []
    assert match_expression(['say "hi"']) == '"say ""hi"""'


def test_a_huge_query_is_cut_to_a_bounded_number_of_words(index: SectionIndex) -> None:
    query = " ".join(f"word{n}" for n in range(100_000)) + " database"
    assert len(terms(query)) == MAX_TERMS
    index.search(query, 10)  # answers, bounded


def test_limits_are_bounded_and_an_empty_query_finds_nothing(index: SectionIndex) -> None:
    assert len(index.search("issue", 10_000)) <= MAX_LIMIT
    assert len(index.search("issue", 0)) == 1
    assert index.search("", 5) == [] and index.search("the a of", 5) == []
    assert SectionIndex([]).search("database", 5) == []


def test_ranking_on_the_shared_runbooks_finds_the_issue_sections() -> None:
    textbook = read_runbook(shared_runbook(TEXTBOOK), "textbook-rag-runbook.md")
    echo = read_runbook(shared_runbook(ECHO), "echo-ai-runbook.md")
    index = SectionIndex([*textbook.sections, *echo.sections])
    assert (
        ids(index, "Database connection errors")[0]
        == "textbook-rag-runbook.md#issue-database-connection-errors"
    )
    assert ids(index, "502")[0] == "textbook-rag-runbook.md#issue-502-bad-gateway"
    assert ids(index, "HighErrorRate")[0] == "echo-ai-runbook.md#issue-high-error-rate"
    assert ids(index, "celery queue")[0] == "echo-ai-runbook.md#issue-celery-worker-not-processing-tasks"


def test_the_index_is_built_once(index: SectionIndex, tmp_path: Path) -> None:
    index.search("database", 1)
    built = index._db
    index.search("celery", 1)
    assert built is not None and index._db is built
