from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vigil.config.load import load_stack
from vigil.errors import ConfigError, ProcedureNotFound
from vigil.runbooks.library import load_library

PRODUCTION = """\
# Production
*Last updated: 2026-01-01*

## Issue: "502 Bad Gateway"
```bash
echo restart
```

## Issue: Database connection errors
```sql
SELECT 1;
```

## Architecture
```
a --> b
```
"""


def _stack(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "production.md").write_text(PRODUCTION)
    file = tmp_path / "vigil.yaml"
    file.write_text(
        "runbooks: [runbooks/*.md]\nservices:\n  api:\n    checks:\n      health:\n"
        "        http: http://127.0.0.1:9/health\n" + extra
    )
    return file


def test_sections_are_named_by_file_name_and_by_path(tmp_path: Path) -> None:
    library = load_library(load_stack(_stack(tmp_path)))
    by_name = library.section("production.md#issue-502-bad-gateway")
    assert by_name is not None
    assert library.section("runbooks/production.md#issue-502-bad-gateway") is by_name
    assert by_name.id == "runbooks/production.md#issue-502-bad-gateway"


@pytest.mark.parametrize(
    "name",
    [
        "production.md#issue-502-bad-gateway",
        'Issue: "502 Bad Gateway"',
        "502 bad gateway",
        "issue-502-bad-gateway",
    ],
)
def test_a_procedure_is_found_by_address_title_or_part_of_it(tmp_path: Path, name: str) -> None:
    library = load_library(load_stack(_stack(tmp_path)))
    assert library.procedure(name).slug == "issue-502-bad-gateway"


def test_an_unknown_procedure_lists_the_closest(tmp_path: Path) -> None:
    library = load_library(load_stack(_stack(tmp_path)))
    assert library.procedure("database conection eror").slug == "issue-database-connection-errors"
    with pytest.raises(ProcedureNotFound) as caught:
        library.procedure("issue")
    assert str(caught.value) == (
        "'issue' matches no procedure; closest: runbooks/production.md#issue-502-bad-gateway, "
        "runbooks/production.md#issue-database-connection-errors"
    )
    assert caught.value.exit_code == 2
    with pytest.raises(ProcedureNotFound, match="not a procedure"):
        library.procedure("production.md#architecture")


def test_a_reference_to_a_missing_section_is_a_fault_with_a_suggestion(tmp_path: Path) -> None:
    file = _stack(tmp_path, "        runbook: production.md#issue-502-bad-gatway\n")
    with pytest.raises(ConfigError) as caught:
        load_library(load_stack(file))
    assert "did you mean production.md#issue-502-bad-gateway?" in str(caught.value)


def test_a_glob_matching_nothing_and_an_unreadable_runbook_are_faults(tmp_path: Path) -> None:
    file = _stack(tmp_path)
    (tmp_path / "runbooks" / "broken.md").write_bytes(b"# x\n\xff\n")
    file.write_text(file.read_text().replace("[runbooks/*.md]", "[runbooks/*.md, missing/*.md]"))
    with pytest.raises(ConfigError) as caught:
        load_library(load_stack(file))
    text = str(caught.value)
    assert (
        "'missing/*.md' matches no file" in text and "runbooks/broken.md:2: the runbook is not UTF-8" in text
    )


def test_stale_runbooks_are_flagged(tmp_path: Path) -> None:
    library = load_library(load_stack(_stack(tmp_path)))
    assert library.stale(dt.date(2026, 3, 1), 180 * 86400) == []
    (warning,) = library.stale(dt.date(2026, 12, 1), 180 * 86400)
    assert warning.startswith("runbooks/production.md:2: last updated 2026-01-01, 334 days ago")
