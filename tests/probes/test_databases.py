"""What the database probes do alike, each against its real server: the SQL probes (``mysql`` on
MariaDB and ``postgres``) judge a query's answer the same way, and every database probe words a
closed port and a socket that accepts but never answers the same way."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.probes import conftest
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Observation
from vigil.probes.registry import KINDS

SQL = ["mysql", "postgres"]
DATABASES = [*SQL, "redis"]
AT_PORT = {
    "mysql": "mysql://root:pw-123@127.0.0.1:{port}/test",
    "postgres": "postgresql://postgres:pw-123@127.0.0.1:{port}/test",
    "redis": "redis://:pw-123@127.0.0.1:{port}/0",
}
"""A URL of each kind for a local port that is not its shared server."""


async def observe(kind: str, **fields: Any) -> Observation:
    return await conftest.observe(KINDS[kind], **fields)


@pytest.mark.parametrize("kind", SQL)
async def test_a_healthy_server_passes_with_connect_and_query_times(kind: str) -> None:
    observation = await observe(kind)

    assert observation.ok, observation.reason
    assert observation.reason is None
    assert set(observation.values) == {"connect_ms", "query_ms"}
    assert all(ms > 0 for ms in observation.values.values())


@pytest.mark.parametrize(
    ("kind", "query", "expect"),
    [
        ("mysql", "SELECT 5", {"value": 5}),
        ("mysql", "SELECT 5.00", {"value": 5}),
        ("mysql", "SELECT SUM(2)", {"value": "2"}),
        ("mysql", "SELECT 2.5e0", {"value": 2.5}),
        ("mysql", "SELECT TRUE", {"value": True}),
        ("mysql", "SELECT 1 = 1", {"value": "t"}),
        ("mysql", "SELECT 'primary'", {"value": "primary"}),
        ("mysql", "SELECT NULL", {"value": None}),
        ("mysql", "SELECT 42", {"range": {"min": 10, "max": 50}}),
        ("mysql", "SELECT @@version", {}),
        ("postgres", "SELECT 5", {"value": 5}),
        ("postgres", "SELECT 5::numeric(6, 2)", {"value": 5}),
        ("postgres", "SELECT 5::bigint", {"value": "5"}),
        ("postgres", "SELECT 0.1::float8", {"value": 0.1}),
        ("postgres", "SELECT 0.1::float4", {"value": 0.1}),
        ("postgres", "SELECT true", {"value": "t"}),
        ("postgres", "SELECT true", {"value": True}),
        ("postgres", "SELECT false", {"value": "no"}),
        ("postgres", "SELECT 'primary'", {"value": "primary"}),
        ("postgres", "SELECT NULL", {"value": None}),
        ("postgres", "SELECT 42", {"range": {"min": 10, "max": 50}}),
        ("postgres", "SELECT '42'::text", {"range": {"max": 42}}),
        ("postgres", "SELECT count(*) FROM pg_stat_activity", {}),
    ],
)
async def test_a_query_whose_answer_meets_the_expectation_passes(
    kind: str, query: str, expect: dict[str, Any]
) -> None:
    observation = await observe(kind, query=query, expect=expect)

    assert observation.ok, observation.reason


@pytest.mark.parametrize(
    ("kind", "query", "expect", "reason"),
    [
        ("mysql", "SELECT 3", {"value": 5}, "query returned 3, expected 5"),
        ("mysql", "SELECT 12", {"range": {"max": 10}}, "query returned 12 > max 10"),
        ("mysql", "SELECT 'replica'", {"value": "primary"}, "query returned 'replica', expected 'primary'"),
        ("mysql", "SELECT FALSE", {"value": True}, "query returned 0, expected true"),
        ("mysql", "SELECT 'idle'", {"range": {"min": 1}}, "query returned 'idle', not a number"),
        ("mysql", "SELECT 1 FROM DUAL WHERE 1 = 0", {"value": 1}, "query returned no rows"),
        ("postgres", "SELECT 3", {"value": 5}, "query returned 3, expected 5"),
        (
            "postgres",
            "SELECT 3.50::numeric",
            {"value": 3.5, "range": {"max": 3}},
            "query returned 3.5 > max 3",
        ),
        ("postgres", "SELECT 12", {"range": {"max": 10}}, "query returned 12 > max 10"),
        ("postgres", "SELECT 2", {"range": {"min": 3}}, "query returned 2 < min 3"),
        (
            "postgres",
            "SELECT 'replica'",
            {"value": "primary"},
            "query returned 'replica', expected 'primary'",
        ),
        ("postgres", "SELECT '7'::text", {"value": "007"}, "query returned '7', expected '007'"),
        ("postgres", "SELECT false", {"value": True}, "query returned false, expected true"),
        ("postgres", "SELECT NULL::int", {"value": 0}, "query returned NULL, expected 0"),
        ("postgres", "SELECT 'idle'", {"range": {"max": 1}}, "query returned 'idle', not a number"),
        ("postgres", "SELECT 1 WHERE false", {"value": 1}, "query returned no rows"),
    ],
)
async def test_a_query_whose_answer_misses_the_expectation_fails_saying_what_came_back(
    kind: str, query: str, expect: dict[str, Any], reason: str
) -> None:
    observation = await observe(kind, query=query, expect=expect)

    assert not observation.ok
    assert observation.reason == reason
    assert {"connect_ms", "query_ms"} <= set(observation.values)


@pytest.mark.parametrize(("kind", "query"), [("mysql", "SELECT 41.50"), ("postgres", "SELECT 41.5::numeric")])
async def test_a_numeric_answer_is_kept_as_the_value(kind: str, query: str) -> None:
    observation = await observe(kind, query=query)

    assert observation.ok
    assert observation.values["value"] == 41.5


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("mysql", "query failed: Table 'test.vigil_no_such_table' doesn't exist"),
        ("postgres", 'query failed: relation "vigil_no_such_table" does not exist'),
    ],
)
async def test_a_failing_query_says_what_the_server_said(kind: str, reason: str) -> None:
    observation = await observe(kind, query="SELECT * FROM vigil_no_such_table")

    assert not observation.ok
    assert observation.reason == reason
    assert "connect_ms" in observation.values


@pytest.mark.parametrize(
    ("kind", "url", "reason"),
    [
        ("mysql", "mysql://root@127.0.0.1:3306/vigil_nope", "Unknown database 'vigil_nope'"),
        (
            "postgres",
            "postgresql://postgres@127.0.0.1:5432/vigil_nope",
            'database "vigil_nope" does not exist',
        ),
    ],
)
async def test_an_unknown_database_fails_naming_it(kind: str, url: str, reason: str) -> None:
    observation = await observe(kind, **{kind: url})

    assert observation.reason == reason


@pytest.mark.parametrize("kind", SQL)
def test_an_expectation_without_a_query_is_a_config_error(kind: str) -> None:
    with pytest.raises(ValidationError, match="no query is given"):
        KINDS[kind].config.model_validate({kind: conftest.SHARED[kind], "expect": {"value": 1}})


@pytest.mark.parametrize("kind", DATABASES)
async def test_a_closed_port_fails_as_connection_refused_with_the_address(
    kind: str, closed_port: int
) -> None:
    observation = await observe(kind, **{kind: AT_PORT[kind].format(port=closed_port)})

    assert observation.reason == f"connection refused (127.0.0.1:{closed_port})"


@pytest.mark.parametrize("kind", DATABASES)
async def test_a_server_that_never_answers_times_out_within_the_check_timeout(
    runner: CheckRunner, silent_port: int, kind: str
) -> None:
    check = KINDS[kind].config.model_validate(
        {kind: AT_PORT[kind].format(port=silent_port), "timeout": "300ms"}
    )

    result = await runner.run(CheckSpec("db", kind, check))

    assert not result.ok
    assert result.reason == "timed out after 300ms"
    assert result.duration_ms < 1000
