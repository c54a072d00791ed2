"""Whatever YAML a stack file holds, loading it gives a Stack or a clear ConfigError, never anything else."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.alerting.promfile import import_rules
from vigil.config.load import parse_stack
from vigil.errors import ConfigError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.sampled_from(
    ["services", "checks", "depends_on", "http", "tcp", "every", "timeout", "alert", "expect", "alerts",
     "name", "expr", "notify", "channels", "store", "engine", "severities", "P1", "api", "db", "a b", ""]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["30s", "3x", "http://x/h", "${UNSET}", "${SET}", "$$", "2024-13-45", "P9", "0ms"])
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES | st.integers(), inner, max_size=5),
    max_leaves=30,
)
# Pieces of YAML syntax, so that random text reaches anchors, aliases, tags, merges and flow style.
PIECES = st.sampled_from(
    ["services:", "\n", "  ", "- ", ": ", "&a ", "*a", "&b ", "*b", "<<: ", "[", "]", "{", "}", ", ", "!!int ",
     "!!str ", "!!binary ", "!!timestamp ", "!x ", "? ", "---\n", "...\n", "'", '"', "|\n", "#", "http: x",
     "depends_on: ", "checks:", "1.5", "~", "2024-13-45", "${SET}", "\t", "%YAML 1.1\n"]
)  # fmt: skip


def loads_or_refuses_clearly(text: str) -> None:
    try:
        parse_stack("f.yaml", text, {"SET": "s3cret"})
    except ConfigError as err:
        assert err.faults
        for fault in err.faults:
            line = str(fault)
            assert line.startswith("f.yaml")
            assert fault.message
            assert "\n" not in line, line
            assert "s3cret" not in line, line


def as_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@FUZZ
@given(DOCUMENTS)
def test_any_yaml_document_loads_or_is_refused_clearly(data: Any) -> None:
    loads_or_refuses_clearly(as_yaml(data))


@FUZZ
@given(st.dictionaries(st.text(min_size=1, max_size=8), DOCUMENTS, max_size=4))
def test_any_services_mapping_loads_or_is_refused_clearly(services: dict[str, Any]) -> None:
    loads_or_refuses_clearly(as_yaml({"services": services}))


@FUZZ
@given(st.lists(PIECES, max_size=30).map("".join) | st.text(max_size=200))
def test_any_text_loads_or_is_refused_clearly(text: str) -> None:
    loads_or_refuses_clearly(text)


RULES = st.fixed_dictionaries(
    {"alert": st.text(max_size=10) | DOCUMENTS, "expr": st.sampled_from(["up", "up ==", "rate(x[5m]) > 1"])},
    optional={"for": SCALARS, "labels": DOCUMENTS, "annotations": DOCUMENTS, "keep_firing_for": SCALARS},
)
RULE_FILES = st.lists(
    st.fixed_dictionaries({"name": SCALARS, "rules": st.lists(RULES, max_size=3)}), max_size=2
)


@FUZZ
@given(
    st.lists(PIECES, max_size=30).map("".join)
    | DOCUMENTS.map(as_yaml)
    | RULE_FILES.map(lambda g: as_yaml({"groups": g}))
)
def test_any_rule_file_imports_or_is_refused_clearly(text: str) -> None:
    try:
        import_rules("rules.yaml", text)
    except ConfigError as err:
        assert all("\n" not in str(fault) for fault in err.faults)
