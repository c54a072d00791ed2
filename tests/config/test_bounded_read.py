"""Files a stack file names are read no further than their bound, and a refusal is one line
naming the file and the bound, as the caller's own kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config.bounded_read import read_file
from vigil.errors import RunbookError
from vigil.oncall import ical
from vigil.runbooks.parse import read_runbook


def test_a_file_within_its_bound_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"x" * 10)
    assert read_file(tmp_path / "a.md", 10, "runbook", RunbookError) == b"x" * 10


def test_a_file_over_its_bound_names_the_file_and_the_bound(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"x" * 11)
    with pytest.raises(RunbookError) as caught:
        read_file(tmp_path / "a.md", 10, "runbook", RunbookError, "runbooks/a.md")
    assert str(caught.value) == "runbooks/a.md: 11 bytes is more than the 10 a runbook may have"


def test_an_endless_file_is_read_only_up_to_its_bound() -> None:
    # /dev/zero says it has no size and never ends: a read that trusts the size never returns.
    with pytest.raises(
        ical.CalendarError, match=r"^rota\.ics: more than the 5,000,000 bytes a calendar may have$"
    ):
        ical.read_file(Path("/dev/zero"), {}, where="rota.ics")
    with pytest.raises(RunbookError, match="more than the 10,485,760 bytes a runbook may have"):
        read_runbook(Path("/dev/zero"), "ops.md")


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match=r"ops\.md: cannot read the runbook: No such file or directory$"):
        read_runbook(tmp_path / "missing.md", "ops.md")
    with pytest.raises(ical.CalendarError, match=r": cannot read the calendar: Is a directory$"):
        ical.read_file(tmp_path, {})
