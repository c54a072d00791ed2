"""Which stack a stack file is, in a store several share: its name: when it has one, else its
absolute path's digest (not resolved through symlinks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config.load import parse_stack
from vigil.errors import ConfigError

SERVICES = "services: {api: {checks: {health: {http: 'http://127.0.0.1:9/'}}}}\n"


def test_two_files_in_one_folder_are_two_stacks_and_one_file_is_one_however_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = parse_stack(str(tmp_path / "vigil.yaml"), SERVICES).identity
    staging = parse_stack(str(tmp_path / "vigil.staging.yaml"), SERVICES).identity
    assert production != staging
    assert production.startswith("file:") and len(production) == len("file:") + 16
    monkeypatch.chdir(tmp_path)
    assert parse_stack("vigil.yaml", SERVICES).identity == production
    assert parse_stack(str(tmp_path / "sub" / ".." / "vigil.yaml"), SERVICES).identity == production


def test_a_name_is_the_identity_wherever_the_file_is(tmp_path: Path) -> None:
    named = "name: payments\n" + SERVICES
    assert parse_stack(str(tmp_path / "a.yaml"), named).identity == "payments"
    assert parse_stack("/elsewhere/b.yaml", named).identity == "payments"
    with pytest.raises(ConfigError, match="name"):
        parse_stack("vigil.yaml", "name: 'pay ments:x'\n" + SERVICES)
