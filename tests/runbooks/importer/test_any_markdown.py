"""Hypothesis writes runbooks from the pieces real ones are made of, shuffled and broken: whatever
it writes, the importer either drafts a stack file that validates as written, or says in one
``RunbookError`` why the file is no runbook. It never raises anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runbooks.importer.drafting import drafted
from vigil.errors import RunbookError

PIECES = [
    "# Ops runbook\n",
    "## Issue: 502 Bad Gateway\n",
    "### Alerting Rules\n",
    "## Maintenance Windows\n",
    "**Critical Alerts (Page On-Call):**\n",
    "- Error rate > 5% for 5 minutes\n",
    "- p95 latency > 2s for 10 min\n",
    "- Health check failing for 2 minutes\n",
    "- Celery worker down\n",
    "- [ ] Backup database\n",
    "- **Database:** PostgreSQL 15\n",
    "| Condition | Severity | Action |\n|---|---|---|\n| Disk usage > 90% | Critical | Page |\n",
    "| Level | Response Time |\n|---|---|\n| SEV1 | 5 minutes |\n| P9 | never |\n",
    "| Service | Port | Health Check | URL |\n|---|---|---|---|\n| API | 8080 | `/health` | http://[::1 |\n",
    '| Endpoint | Expected Response |\n|---|---|\n| `GET /health` | `{"status": "ok"` |\n',
    "| Service | Depends on |\n|---|---|\n| a | b, a |\n| b | a |\n",
    "Sundays 2:00 AM - 4:00 AM UTC maintenance\n",
    "Maintenance window: Monday-Friday 25:00 - 99:99 Mars/Olympus\n",
    '```bash\ncurl -H "Authorization: Bearer <TOKEN>" https://api.example.com/health\n# Expected:\n{"status": "healthy",\n',
    "```bash\ncurl $QDRANT_URL/healthz\npsql $DATABASE_URL -c 'SELECT 1'\nexport REDIS_URL=redis://u:p@h:1/0\n```\n",
    "```mermaid\ngraph TD\nA[Web] --> B[(Redis)]\nB --> A\nA -->|x| A\n```\n",
    "```\n┌───┐\n│ a │──►\n└───┘\n  │\n  ▼\n+---+\n| b |\n+---+\n```\n",
    '```bash {timeout=1h name="x"}\nrm -rf /\n```\n',
    "$$ ${X:-} ${ {{ $value }} %}\n",
    "> quote\n",
    "\n",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PIECES),
            st.text(
                alphabet=st.sampled_from(list("#`|-*>[]{}()$:%<>!=.,/\\ \n\t0123456789abcxyzP─│┌┐└┘▼")),
                max_size=40,
            ),
        ),
        max_size=25,
    )
)
def test_any_markdown_gives_a_draft_that_validates_or_a_runbook_error(pieces: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            drafted(Path(folder), "".join(pieces))
        except RunbookError as err:
            assert str(err).startswith("runbook.md")


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_draft_or_a_runbook_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            drafted(Path(folder), data)
        except RunbookError as err:
            assert "runbook.md" in str(err)
