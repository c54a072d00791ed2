"""Dotted-path conditions on JSON documents, as the ``http`` probe's ``expect.json`` uses them."""

from __future__ import annotations

from typing import Any

import pytest

from vigil.probes.jsonpath import MISSING, Condition, conditions_from, literal, lookup, parse_condition, same

DOCUMENT = {
    "status": "healthy",
    "checks": {"database": {"status": "healthy", "latency_ms": 3.5}},
    "items": [{"name": "a"}, {"name": "b"}],
    "tags": ["cpu", "gpu"],
    "ids": [1, 2, 3],
    "ready": True,
    "count": "42",
    "nothing": None,
    "version": "1.10.2",
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("status", "healthy"),
        ("checks.database.status", "healthy"),
        ("items.0.name", "a"),
        ("items.-1.name", "b"),
        ("nothing", None),
    ],
)
def test_a_path_walks_objects_by_key_and_lists_by_index(path: str, value: Any) -> None:
    assert lookup(DOCUMENT, path) == value


@pytest.mark.parametrize("path", ["items.2.name", "items.name", "status.length", "checks.cache"])
def test_a_path_that_leads_nowhere_is_missing_rather_than_null(path: str) -> None:
    assert lookup(DOCUMENT, path) is MISSING


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("healthy", "healthy"),
        ("200", 200),
        ("-3", -3),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        ("null", None),
        ('"200"', "200"),
        ("'true'", "true"),
        ("12345678901234567890", 12345678901234567890),
    ],
)
def test_a_conditions_right_side_is_read_as_the_value_it_looks_like(text: str, value: Any) -> None:
    assert literal(text) == value
    assert type(literal(text)) is type(value)


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (200, 200, True),
        (200, "200", True),
        ("200", 200, True),
        (200, 200.0, True),
        (True, "true", True),
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        ("healthy", "healthy", True),
        ("healthy", "Healthy", False),
        (None, "null", True),
        ([1, 2], [1, 2], True),
        ({"a": 1}, "a", False),
    ],
)
def test_values_are_compared_the_way_a_reader_of_the_stack_file_means(
    actual: Any, expected: Any, equal: bool
) -> None:
    assert same(actual, expected) is equal


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("checks.database.status == healthy", Condition("checks.database.status", "==", "healthy")),
        ("status!=down", Condition("status", "!=", "down")),
        ("  depth <= 10  ", Condition("depth", "<=", 10)),
        ("tags contains gpu", Condition("tags", "contains", "gpu")),
        ("version contains 1.10", Condition("version", "contains", "1.10")),
        ("name == 'two words'", Condition("name", "==", "two words")),
        ("msg == all good now", Condition("msg", "==", "all good now")),
    ],
)
def test_a_condition_string_is_path_operator_and_value(text: str, condition: Condition) -> None:
    assert parse_condition(text) == condition


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status = healthy", "cannot read condition"),
        ("status ==", "cannot read condition"),
        ("status", "cannot read condition"),
        ("depth < lots", "right side must be a number"),
        ("checks..status == ok", "has an empty part"),
    ],
)
def test_a_malformed_condition_is_refused_with_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_condition(text)


def test_nested_mappings_descend_and_mean_the_same_as_dotted_keys() -> None:
    nested = conditions_from({"checks": {"database": {"status": "healthy"}}, "ready": True})
    dotted = conditions_from({"checks.database.status": "healthy", "ready": True})

    assert (
        nested
        == dotted
        == (
            Condition("checks.database.status", "==", "healthy"),
            Condition("ready", "==", True),
        )
    )


def test_an_empty_mapping_is_a_value_to_compare_not_a_path_to_descend() -> None:
    assert conditions_from({"extra": {}}) == (Condition("extra", "==", {}),)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("status == healthy", None),
        ("checks.database.latency_ms < 4", None),
        ("count > 40", None),
        ("ids contains 2", None),
        ("version contains 1.10", None),
        ("checks contains database", None),
        ("nothing == null", None),
        ("status == down", 'json status == "healthy", expected "down"'),
        ("ids contains 9", 'json ids == [1, 2, 3], expected contains "9"'),
        ("ready > 0", "json ready == true, expected > 0"),
        ("status < 3", 'json status == "healthy", expected < 3'),
        ("missing.field == 1", "json missing.field missing"),
    ],
)
def test_a_failed_condition_says_what_came_back_and_what_was_expected(text: str, reason: str | None) -> None:
    assert parse_condition(text).judge(DOCUMENT) == reason


def test_a_long_value_is_cut_short_in_a_reason() -> None:
    reason = parse_condition("blob == x").judge({"blob": "y" * 500})

    assert reason is not None
    assert len(reason) < 120
    assert reason.endswith('…, expected "x"')
