"""``vigil runbook search`` as a user runs it, in a real process.

The command's function lives in ``cli/runbook_search.py``; ``vigil runbook`` (``cli/runbook.py``)
makes it its ``search`` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEARCH = [sys.executable, "-m", "vigil.cli", "runbook", "search"]

OPS = """\
# Ops

## Issue: Database connection errors

**Symptoms:** `connection refused`.

```bash
psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity"
```

## Celery workers [stuck]

```bash
celery -A app inspect active
```

## Contacts

Nothing to run here.
"""


def search(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEARCH, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ops.md").write_text(OPS)
    (tmp_path / "vigil.yaml").write_text("runbooks: [runbooks/*.md]\nservices: {}\n")
    return tmp_path / "vigil.yaml"


def test_search_prints_the_best_sections_first(stack: Path) -> None:
    done = search("database", "connection", "-c", str(stack))
    assert done.returncode == 0, done.stderr
    score, rest = done.stdout.splitlines()[0].split(maxsplit=1)
    assert float(score) > 0
    assert (
        rest
        == "runbooks/ops.md#issue-database-connection-errors  Issue: Database connection errors  (1 step)"
    )


def test_search_json_has_id_title_score_and_steps(stack: Path) -> None:
    done = search("celery", "--json", "--limit", "1", "-c", str(stack))
    assert done.returncode == 0, done.stderr
    [hit] = json.loads(done.stdout)
    assert hit["id"] == "runbooks/ops.md#celery-workers-stuck"
    assert (hit["title"], hit["procedure"], hit["steps"]) == ("Celery workers [stuck]", True, 1)
    assert hit["score"] > 0


def test_a_title_with_brackets_is_printed_as_written(stack: Path) -> None:
    done = search("celery", "-c", str(stack))
    assert "Celery workers [stuck]" in done.stdout


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(a b)", "* OR (", "title: celery"])
def test_query_syntax_is_only_words(stack: Path, query: str) -> None:
    done = search(query, "--json", "-c", str(stack))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    found = [hit["id"] for hit in json.loads(done.stdout)]
    assert found == (["runbooks/ops.md#celery-workers-stuck"] if "celery" in query else [])


def test_nothing_found_is_said_in_one_line_and_exit_0(stack: Path) -> None:
    done = search("kubernetes", "-c", str(stack))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.strip() == "no runbook section matches 'kubernetes'"


def test_a_stack_file_without_runbooks_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text("services: {}\n")
    done = search("database", "-c", str(tmp_path / "vigil.yaml"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"{tmp_path / 'vigil.yaml'} lists no runbooks; name them under runbooks:, e.g. [runbooks/*.md]"
    )


def test_a_limit_out_of_bounds_is_refused(stack: Path) -> None:
    done = search("database", "--limit", "0", "-c", str(stack))
    assert done.returncode == 2 and "Traceback" not in done.stderr
