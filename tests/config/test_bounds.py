"""Hostile stack and rule files: each is refused with one line at its place and exit 2, quickly."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vigil.config.bounded_yaml import MAX_ALIAS_NODES, MAX_DEPTH
from vigil.config.load import parse_stack
from vigil.errors import ConfigError

SRC = str(Path(__file__).parents[2] / "src")

# Nine levels of nine-fold aliases: 346 bytes standing for 9^9 (387 million) strings.
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    # The worktree's sources first, whatever the environment says, so this code is what runs.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        # Were the bound gone, the bomb would take the machine's memory: cap the child at 2 GB.
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)),
    )


def refused(tmp_path: Path, text: str, *command: str) -> str:
    """The one line ``vigil validate`` (or ``command``) prints for ``text``, after checking exit 2."""
    file = tmp_path / "vigil.yaml"
    file.write_text(text)
    done = vigil(*(command or ("validate", "--config")), str(file))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("1 problem") or command, lines
    return lines[0].replace(str(file), "FILE")


def test_an_alias_bomb_is_refused_by_name_at_its_line(tmp_path: Path) -> None:
    line = refused(tmp_path, BOMB)
    assert line == (
        f"FILE:7:8: alias *f expands to more than {MAX_ALIAS_NODES:,} nodes in all; YAML aliases are bounded"
    )


def test_a_rule_file_bomb_is_refused_the_same_way(tmp_path: Path) -> None:
    line = refused(tmp_path, BOMB, "rules", "import")
    assert line.startswith("FILE:7:8: alias *f expands to more than")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"groups: \xff\n", "FILE: the rule file is not UTF-8 text"),
        (
            b"groups: []\n" + b"#" * (11 * 2**20),
            "FILE: the rule file is 11.5 MB; files over 10 MB are refused",
        ),
    ],
)
def test_a_rule_file_that_is_not_text_or_too_big_is_one_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    file = tmp_path / "rules.yaml"
    file.write_bytes(content)
    done = vigil("rules", "import", str(file))
    assert (done.returncode, done.stderr.strip().replace(str(file), "FILE")) == (2, expected)


def test_a_ten_thousand_deep_flow_list_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    line = refused(tmp_path, "services: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert line.endswith(f"nested more than {MAX_DEPTH} levels deep; YAML nesting is bounded")


def test_deep_block_nesting_is_refused_at_the_first_level_too_deep() -> None:
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + f"{'  ' * 100}x\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", text, {})
    assert [str(f) for f in caught.value.faults] == [
        f"f.yaml:{MAX_DEPTH + 1}:{2 * MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep; YAML nesting is bounded"
    ]


def test_an_alias_that_nests_past_the_bound_is_refused() -> None:
    deep = "[" * 40 + "]" * 40
    text = f"a: &a {deep}\nb: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", text, {})
    assert "alias *a nests more than 64 levels deep" in str(caught.value)


def test_a_recursive_alias_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", "services: &a [*a]\n", {})
    assert str(caught.value) == (
        "f.yaml:1:15: alias *a is inside the node it names; recursive YAML is not allowed"
    )


def test_a_file_over_ten_megabytes_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    line = refused(tmp_path, "services: {}\n" + "#" * (11 * 2**20) + "\n")
    assert line == "FILE: the stack file is 11.5 MB; files over 10 MB are refused"


def test_a_date_that_is_no_date_is_a_fault_at_its_place() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", "services:\n  a:\n    description: 2024-13-45\n", {})
    assert str(caught.value) == "f.yaml:3:18: invalid YAML: '2024-13-45' is not a valid timestamp"


def test_anchors_and_merge_keys_still_work_and_an_explicit_key_overrides_a_merged_one() -> None:
    text = textwrap.dedent(
        """
        services:
          api:
            checks:
              health: &probe {http: "http://api/health", every: 10s, timeout: 2s}
          web:
            depends_on: [api]
            checks:
              health: {<<: *probe, http: "http://web/health", every: 5s}
              again: *probe
        """
    )
    stack = parse_stack("f.yaml", text, {})
    web = stack.model.services["web"].checks
    assert (web["health"].target, web["health"].every, web["health"].timeout) == (
        "http://web/health",
        5.0,
        2.0,
    )
    assert web["again"].target == "http://api/health"


def test_a_fault_inside_a_merged_mapping_is_placed_at_its_definition() -> None:
    text = "services:\n  a:\n    checks:\n      c: &p {http: 'http://x', every: 3x}\n      d: {<<: *p}\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", text, {})
    assert [f.line for f in caught.value.faults] == [4, 4]
    assert {f.path for f in caught.value.faults} == {"services.a.checks.c.every", "services.a.checks.d.every"}


def test_a_long_dependency_chain_is_checked_without_recursion() -> None:
    # Each service depends on the next, so a depth-first search would go 3,000 calls deep.
    chain = "".join(f"  s{i}: {{depends_on: [s{i + 1}]}}\n" for i in range(3000))
    stack = parse_stack("f.yaml", f"services:\n{chain}  s3000: {{}}\n", {})
    assert len(stack.model.services) == 3001
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", f"services:\n{chain}  s3000: {{depends_on: [s0]}}\n", {})
    (fault,) = caught.value.faults
    assert fault.message.startswith("dependency cycle: s0 -> s1 -> s2")
    assert fault.message.endswith("s3000 -> s0")


def test_thousands_of_unknown_dependencies_are_reported_in_linear_time() -> None:
    # One did-you-mean per fault would compare every name with every service: 25 million pairs.
    services = "".join(f"  service-{i}: {{depends_on: [missing-{i}]}}\n" for i in range(5000))
    with pytest.raises(ConfigError) as caught:
        parse_stack("f.yaml", f"services:\n{services}", {})
    faults = caught.value.faults
    assert len(faults) == 5000
    assert (
        str(faults[-1])
        == "f.yaml:5001:31: services.service-4999.depends_on[0]: unknown service 'missing-4999'"
    )
