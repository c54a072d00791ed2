"""Which steps need confirmation: over the shared runbooks' real blocks, and over one line per
pattern, with the lines that look alike and are harmless."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.shared import ECHO, TEXTBOOK, shared_runbook
from vigil.runbooks.attributes import parse_attributes
from vigil.runbooks.model import LANGUAGES, Section, Step, StepKind
from vigil.runbooks.parse import read_runbook
from vigil.runbooks.safety import confirmation, destructive


def _section(text: str = "", *steps: Step) -> Section:
    return Section("ops.md", "s", "S", 2, 1, text, tuple(steps), None, ("S",))


def _step(code: str, language: str = "bash", attributes: str = "", explanation: str = "") -> Step:
    attrs, _ = parse_attributes(attributes)
    return Step(1, language, LANGUAGES.get(language, StepKind.SHOWN), code, explanation, 1, attrs)


# (runbook, section slug, step number, destructive labels, needs confirmation)
SHARED_BLOCKS = [
    (TEXTBOOK, "issue-502-bad-gateway", 1, ["restart"], True),
    (TEXTBOOK, "issue-database-connection-errors", 1, ["pg_terminate_backend"], True),
    (TEXTBOOK, "issue-chat-not-responding", 1, [], False),
    (TEXTBOOK, "frontend-rollback-github-pages", 1, ["push --force", "reset --hard"], True),
    (TEXTBOOK, "database-rollback", 1, ["downgrade"], True),
    (TEXTBOOK, "re-ingest-book-content-rag", 1, ["--force"], True),
    (TEXTBOOK, "database-maintenance", 1, [], False),
    (TEXTBOOK, "1-assess", 1, [], False),
    (ECHO, "restoring-from-backup", 1, ["pg_restore --clean"], True),
    (ECHO, "issue-high-error-rate", 1, [], False),
    (ECHO, "issue-high-error-rate", 2, ["restart"], True),
    (ECHO, "manual-rollback-git", 1, [], True),  # the section warns of data loss
    (ECHO, "running-migrations", 3, ["downgrade"], True),
    (ECHO, "key-metrics-to-monitor", 3, [], False),  # the sql block of SELECTs
    (ECHO, "creating-a-backup", 1, [], False),
]


@pytest.mark.parametrize(("runbook", "slug", "number", "labels", "confirm"), SHARED_BLOCKS)
def test_the_shared_runbooks_blocks(
    runbook: Path, slug: str, number: int, labels: list[str], confirm: bool
) -> None:
    book = read_runbook(shared_runbook(runbook), runbook.name)
    section = next(s for s in book.sections if s.slug == slug)
    step = section.steps[number - 1]
    assert destructive(step) == labels
    assert bool(confirmation(section, step)) is confirm


@pytest.mark.parametrize(
    ("code", "language", "label"),
    [
        ("DROP TABLE users;", "sql", "DROP"),
        ("drop database app", "sql", "DROP"),
        ("dropdb app", "bash", "DROP"),
        ("ALTER TABLE users DROP COLUMN email;", "sql", "ALTER … DROP"),
        ("TRUNCATE sessions;", "sql", "TRUNCATE"),
        ("DELETE FROM sessions;", "sql", "DELETE without WHERE"),
        ('psql $DATABASE_URL -c "DELETE FROM jobs"', "bash", "DELETE without WHERE"),
        ("UPDATE users SET admin = true;", "sql", "UPDATE without WHERE"),
        ("redis-cli -u $REDIS_URL FLUSHALL", "bash", "flushdb/flushall"),
        ("git push -f origin main", "bash", "push --force"),
        ("git push origin main --force-with-lease", "bash", "push --force"),
        ("git reset --hard HEAD~1", "bash", "reset --hard"),
        ("rm -rf /var/lib/app/cache", "bash", "rm -rf"),
        ("rm -fr build", "bash", "rm -rf"),
        (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle';",
            "sql",
            "pg_terminate_backend",
        ),
        ("alembic downgrade -1", "bash", "downgrade"),
        ("vercel rollback https://x.vercel.app", "bash", "rollback"),
        ("railway restart --service api", "bash", "restart"),
        ("kubectl delete pod api-0", "bash", "kubectl delete"),
        ("docker-compose down -v", "bash", "compose down"),
        ("docker compose -f prod.yml down", "bash", "compose down"),
        ("railway down", "bash", "railway down"),
        ("vercel rm my-app --yes", "bash", "vercel rm"),
        ("curl -X DELETE https://api/x/1", "bash", "DELETE request"),
        ("DELETE https://api.example.com/sessions/1", "http", "DELETE request"),
    ],
)
def test_each_destructive_pattern(code: str, language: str, label: str) -> None:
    assert label in destructive(_step(code, language))


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("DELETE FROM sessions WHERE expires_at < now();", "sql"),
        ("UPDATE users SET name = 'x' WHERE id = 1;", "sql"),
        ("psql $DATABASE_URL -c \"UPDATE jobs SET state = 'queued' WHERE id = 3\"", "bash"),
        ("SELECT count(*) FROM pg_stat_activity;", "sql"),
        ("# railway restart --service api  (only if the check fails)\nrailway status", "bash"),
        ("-- DROP TABLE users;\nSELECT 1;", "sql"),
        ("git push origin main", "bash"),
        ("rm -r build", "bash"),
        ("kubectl get pods", "bash"),
        ("docker compose up -d", "bash"),
        ("apt-get update", "bash"),
        ("rate(http_requests_total[5m])", "promql"),
        ("GET https://api.example.com/health", "http"),
    ],
)
def test_harmless_lookalikes(code: str, language: str) -> None:
    assert destructive(_step(code, language)) == []


def test_warnings_in_prose_explanation_or_comments_ask_for_confirmation() -> None:
    assert confirmation(_section("CAUTION: test in staging first"), _step("echo ok")) == [
        "'CAUTION' in its section"
    ]
    assert confirmation(_section(), _step("echo ok", explanation="Be careful here")) == [
        "'careful' in its explanation"
    ]
    assert confirmation(_section(), _step("# WARNING: drops all data\necho ok")) == [
        "'WARNING' in its comment"
    ]
    assert confirmation(_section("Warning alerts go to Slack"), _step("echo ok")) == []


def test_confirm_true_forces_it_and_confirm_false_cannot_unmark_a_destructive_command() -> None:
    assert confirmation(_section(), _step("echo ok", attributes="{confirm=true}")) == ["confirm=true"]
    cautious = _section("Destructive: be careful")
    assert confirmation(cautious, _step("echo ok", attributes="{confirm=false}")) == []
    assert confirmation(cautious, _step("railway restart", attributes="{confirm=false}")) == ["restart"]
