"""How a fault names its place in a YAML file."""

from __future__ import annotations

import pytest
import yaml

from vigil.config.yaml_places import dotted, fault_at, shown


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("services", "api", "checks"), "services.api.checks"),
        (("alerts", 3, "expr"), "alerts[3].expr"),
        (("services", "a b", "every"), "services['a b'].every"),
        (("services", "x.y"), "services['x.y']"),
        ((), ""),
    ],
)
def test_a_path_reads_as_the_stack_file_writes_it(path: tuple[str | int, ...], expected: str) -> None:
    assert dotted(path) == expected


@pytest.mark.parametrize(
    ("name", "expected"), [("api", "api"), ("a b", "'a b'"), ("", "''"), ("x\ny", "'x\\ny'")]
)
def test_a_name_is_quoted_only_when_it_would_not_read_as_one_word(name: str, expected: str) -> None:
    assert shown(name) == expected


def test_a_fault_is_placed_one_based_at_the_parser_mark() -> None:
    mark = yaml.Mark("vigil.yaml", 0, 4, 2, None, None)
    fault = fault_at("vigil.yaml", mark, "bad", "services.api")
    assert (fault.line, fault.column, fault.path, fault.message) == (5, 3, "services.api", "bad")
    assert (fault_at("f", None, "m").line, fault_at("f", None, "m").column) == (1, 1)
