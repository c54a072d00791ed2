"""The ``qdrant`` probe against a local stand-in that speaks Qdrant's HTTP API.

A stand-in, not a real Qdrant: no Debian, PyPI or npm package ships the Qdrant server (its
releases are a binary or a container image downloaded from the vendor, which this machine
cannot reach). ``tests/probes/standins/qdrant.py`` answers ``/readyz`` and the collection
endpoints with the JSON shapes Qdrant documents, and checks the ``api-key`` header as Qdrant does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.probes.standins import served
from tests.probes.standins.qdrant import Collection, QdrantStandIn
from vigil.config.load import load_stack
from vigil.engine.once import run_once
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.qdrant import QdrantCheck

API_KEY = "qdrant-secret-7f3a9c"
Observe = Callable[..., Awaitable[Result]]


@pytest.fixture
def qdrant() -> QdrantStandIn:
    return QdrantStandIn(
        collections={"textbook_content": Collection(points=1200), "faq": Collection(points=12)}
    )


@pytest.fixture
async def url(qdrant: QdrantStandIn) -> AsyncIterator[str]:
    async with served(qdrant.app()) as base:
        yield base


@pytest.fixture
def observe(runner: CheckRunner) -> Observe:
    """One run of a check built from ``fields`` the way the stack file builds it, as the engine runs it."""

    async def run(url: str, **fields: Any) -> Result:
        return await runner.run(
            CheckSpec("vectors", "qdrant", QdrantCheck.model_validate({"qdrant": url, **fields}))
        )

    return run


async def test_a_ready_server_with_a_full_green_collection_passes(observe: Observe, url: str) -> None:
    result = await observe(
        url, collections=["textbook_content"], expect={"status": "green", "points_min": 1000}
    )

    assert result.ok, result.reason
    assert result.values["points.textbook_content"] == 1200
    assert result.values["status.textbook_content"] == 0
    assert result.values["segments.textbook_content"] == 2
    assert result.values["ready_ms"] > 0


async def test_a_server_alone_is_judged_by_readyz(observe: Observe, url: str, qdrant: QdrantStandIn) -> None:
    assert (await observe(url)).ok
    qdrant.ready = False

    result = await observe(url)

    assert not result.ok
    assert result.reason == "readyz answered 503 (some shards are not ready), expected 200"


async def test_every_failing_collection_is_named_with_what_came_back(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.collections["textbook_content"].status = "yellow"

    result = await observe(
        url, collections=["textbook_content", "faq"], expect={"status": "green", "points_min": 1000}
    )

    assert result.reason == (
        "collection textbook_content status yellow, expected green; "
        "collection faq has 12 points, expected at least 1000"
    )
    assert result.values["status.textbook_content"] == 1
    assert result.values["points.faq"] == 12


async def test_a_list_of_statuses_accepts_any_of_them(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.collections["faq"].status = "yellow"

    result = await observe(url, collections=["faq"], expect={"status": ["green", "yellow"]})

    assert result.ok, result.reason


async def test_a_red_collection_fails_without_any_expectation(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.collections["faq"].status = "red"

    result = await observe(url, collections=["faq"])

    assert result.reason == "collection faq status red: an optimization failed and was not recovered"
    assert result.values["status.faq"] == 3


async def test_too_many_points_fail_a_maximum(observe: Observe, url: str) -> None:
    result = await observe(url, collections=["textbook_content"], expect={"points_max": 1000})

    assert result.reason == "collection textbook_content has 1200 points, expected at most 1000"


async def test_a_collection_without_a_points_count_cannot_meet_a_bound(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.collections["faq"].points = None

    result = await observe(url, collections=["faq"], expect={"points_min": 1})

    assert result.reason == "collection faq reports no points count"


async def test_a_missing_collection_is_named_with_the_closest_one(observe: Observe, url: str) -> None:
    result = await observe(url, collections=["textbook_contnt"])

    assert result.reason == "collection textbook_contnt does not exist (did you mean textbook_content?)"


async def test_the_api_key_is_sent_and_never_shown(observe: Observe, url: str, qdrant: QdrantStandIn) -> None:
    qdrant.api_key = API_KEY

    passed = await observe(url, api_key=API_KEY, collections=["faq"])
    refused = await observe(url, api_key="wrong-key-12345", collections=["faq"])

    assert passed.ok, passed.reason
    assert qdrant.seen_keys[-1] == "wrong-key-12345"
    assert refused.reason == "the server refused the API key: 403 Invalid API key or JWT"
    assert API_KEY in qdrant.seen_keys
    assert API_KEY not in repr(QdrantCheck.model_validate({"qdrant": url, "api_key": API_KEY}))


async def test_a_server_that_wants_a_key_says_where_to_put_it(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.api_key = API_KEY

    result = await observe(url, api_key="", collections=["faq"])

    assert result.reason == (
        "the server wants an API key (401); set api_key, e.g. api_key: ${QDRANT_API_KEY}"
    )
    assert qdrant.seen_keys[-1] is None  # an empty ${QDRANT_API_KEY:-} sends no header


async def test_a_refused_connection_names_the_address(observe: Observe, closed_port: int) -> None:
    result = await observe(f"http://127.0.0.1:{closed_port}")

    assert result.reason == f"127.0.0.1:{closed_port}: connection refused"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"qdrant": "127.0.0.1:6333"}, "expected an http:// or https:// URL"),
        ({"qdrant": "http://q", "expect": {"points_min": 1}}, "expect judges collections"),
        ({"qdrant": "http://q", "collections": [""]}, "must be 1 to 255 characters"),
        ({"qdrant": "http://q", "collections": ["c"], "expect": {"status": "blue"}}, "green"),
        (
            {"qdrant": "http://q", "collections": ["c"], "expect": {"points_min": 5, "points_max": 1}},
            "larger",
        ),
    ],
)
def test_a_check_that_cannot_work_is_refused_when_read(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QdrantCheck.model_validate(fields)


async def test_a_key_quoted_back_by_the_server_is_masked(
    observe: Observe, url: str, qdrant: QdrantStandIn
) -> None:
    qdrant.api_key, qdrant.refusal = API_KEY, "key {key} has expired"

    result = await observe(url, api_key="expired-key-4242", collections=["faq"])

    assert result.reason == "the server refused the API key: 403 key *** has expired"


async def test_a_server_that_never_answers_times_out(observe: Observe, silent_port: int) -> None:
    result = await observe(f"http://127.0.0.1:{silent_port}", timeout="300ms")

    assert result.reason == "timed out after 300ms"


async def test_a_pass_of_vigil_check_shows_the_refusal_but_never_the_key(
    url: str, qdrant: QdrantStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qdrant.api_key, qdrant.refusal = API_KEY, "key {key} has expired"
    monkeypatch.setenv("QDRANT_API_KEY", "expired-key-4242")
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        "services:\n  vectors:\n    checks:\n      textbook:\n"
        f"        qdrant: {url}\n        api_key: ${{QDRANT_API_KEY}}\n        collections: [faq]\n"
    )

    [result] = await run_once(load_stack(stack))  # what `vigil check` runs and prints

    assert result.reason == "the server refused the API key: 403 key *** has expired"
    assert "expired-key-4242" not in json.dumps(result.as_dict())
