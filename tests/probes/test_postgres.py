"""The ``postgres`` probe against real servers, in what only it does (the rest is in
``test_databases``): the shared one (trust auth) and a scratch one that demands a password."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.probes import conftest
from tests.probes.scratch_postgres import scratch_cluster
from vigil.probes.base import Observation
from vigil.probes.postgres import KIND

PASSWORD = "correct-horse-battery"


async def observe(**fields: Any) -> Observation:
    """One observation of a check built the way the stack file builds it, on the shared server by default."""
    return await conftest.observe(KIND, **fields)


@pytest.fixture(scope="module")
def password_postgres() -> Iterator[str]:
    """A scratch PostgreSQL that demands a SCRAM password (the shared one trusts everyone)."""
    with scratch_cluster(password=PASSWORD) as url:
        yield url


async def test_a_text_answer_is_not_kept_as_a_value() -> None:
    observation = await observe(query="SELECT current_user")

    assert observation.ok
    assert "value" not in observation.values


async def test_a_query_without_expectation_that_returns_no_rows_passes() -> None:
    assert (await observe(query="SELECT 1 WHERE false")).ok


async def test_the_right_password_passes_on_a_server_that_demands_one(password_postgres: str) -> None:
    observation = await observe(postgres=password_postgres, query="SELECT 1", expect={"value": 1})

    assert observation.ok, observation.reason


async def test_a_wrong_password_fails_without_showing_it(password_postgres: str) -> None:
    url = password_postgres.replace(PASSWORD, "Wr0ng-Secret")

    observation = await observe(postgres=url)

    assert observation.reason == 'password authentication failed for user "vigil"'
    assert "Wr0ng-Secret" not in observation.reason
