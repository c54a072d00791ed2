"""``vigil import`` from the shell: the draft to stdout or to a file it will not overwrite unasked,
and bad input refused with one line and exit 2, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.runbooks.importer.shell import vigil

RUNBOOK = """\
# API runbook

## Issue: API down

```bash
curl -f http://127.0.0.1:8080/health
```
"""


def test_the_draft_goes_to_stdout_and_lists_the_runbook_relative_to_here(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text(RUNBOOK)
    done = vigil("import", "docs/api.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Drafted by `vigil import` from api.md (API runbook).")
    assert "runbooks:\n  - docs/api.md" in done.stdout
    assert "runbook: api.md#issue-api-down" in done.stdout
    assert "api.md: drafted 1 services, 1 checks" in done.stderr


def test_a_written_draft_is_not_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "api.md").write_text(RUNBOOK)
    (tmp_path / "vigil.yaml").write_text("# mine\n")
    refused = vigil("import", "api.md", "-o", "vigil.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "vigil.yaml exists; pass --force to overwrite it"
    assert (tmp_path / "vigil.yaml").read_text() == "# mine\n"
    forced = vigil("import", "api.md", "-o", "vigil.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "http: http://127.0.0.1:8080/health" in (tmp_path / "vigil.yaml").read_text()
    assert vigil("validate", "-c", "vigil.yaml", cwd=tmp_path).returncode == 0


def test_the_runbook_itself_is_never_the_output(tmp_path: Path) -> None:
    (tmp_path / "api.md").write_text(RUNBOOK)
    done = vigil("import", "api.md", "-o", "api.md", "--force", cwd=tmp_path)
    assert done.returncode == 2
    assert "that is the runbook itself" in done.stderr
    assert (tmp_path / "api.md").read_text() == RUNBOOK


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"# Ops\n\ncaf\xe9 au lait\n", "api.md:3: the runbook is not UTF-8 text"),
        (b"x" * (11 * 1024 * 1024), "bytes is more than the 10,485,760 a runbook may have"),
        (b"- " * 10_000 + b"x\n", "nested deeper than 64 levels"),
        (b"> " * 10_000 + b"quote\n", "nested deeper than 64 levels"),
    ],
    ids=["latin-1", "11 MB", "a 10,000-deep list", "10,000-deep quotes"],
)
def test_a_file_that_cannot_be_read_as_a_runbook_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, says: str
) -> None:
    (tmp_path / "api.md").write_bytes(content)
    start = time.monotonic()
    done = vigil("import", "api.md", cwd=tmp_path)
    assert time.monotonic() - start < 30
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_runbook_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = vigil("import", "nowhere.md", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "nowhere.md: cannot read the runbook: No such file or directory"
