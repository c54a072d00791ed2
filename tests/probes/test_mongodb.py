"""The ``mongodb`` probe against a local stand-in that speaks MongoDB's wire protocol.

A stand-in, not a real MongoDB: no Debian, PyPI or npm package ships a MongoDB server (Debian
dropped it; ``pymongo-inmemory`` and npm's ``mongodb-memory-server`` download ``mongod`` from
the vendor at run time, which this machine cannot reach). ``tests/probes/standins/mongodb.py``
answers the handshake and the commands the probe sends (``buildInfo``, ``ping``,
``listCollections``, ``aggregate``) in OP_MSG with pymongo's own BSON, so the probe runs
through the real driver; authentication is only refused, never granted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from tests.probes.standins.mongodb import MongoStandIn
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.mongodb import MongoCheck

Observe = Callable[..., Awaitable[Result]]
USERS = [{"name": "ada", "active": True, "age": 36}, {"name": "bob", "active": False, "age": 41}]
JOBS = [{"state": "failed", "tries": 3}, {"state": "done", "tries": 1}, {"state": "failed", "tries": 2}]


@pytest.fixture
async def mongo() -> AsyncIterator[MongoStandIn]:
    server = MongoStandIn(databases={"app": {"users": list(USERS), "jobs": list(JOBS)}})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def observe(runner: CheckRunner, mongo: MongoStandIn) -> Observe:
    async def run(**fields: Any) -> Result:
        fields.setdefault("mongodb", f"mongodb://127.0.0.1:{mongo.port}/app")
        fields.setdefault("timeout", "5s")  # roomy: the machine may be busy; failures below set their own
        return await runner.run(CheckSpec("db", "mongo", MongoCheck.model_validate(fields)))

    return run


async def test_a_server_answering_ping_passes_with_its_version(observe: Observe, mongo: MongoStandIn) -> None:
    result = await observe()

    assert result.ok, result.reason
    assert result.values["server_version_num"] == 70014
    assert result.values["ping_ms"] > 0
    assert {"buildInfo", "ping"} <= set(mongo.commands)


async def test_an_older_server_than_wanted_fails(observe: Observe) -> None:
    result = await observe(expect={"version_min": "8.0"})

    assert result.reason == "server version 7.0.14, expected at least 8.0"


async def test_a_count_with_a_filter_is_kept_and_judged(observe: Observe) -> None:
    passed = await observe(count={"collection": "users", "filter": {"active": True}}, expect={"count_min": 1})
    failed = await observe(
        count={"collection": "users", "filter": {"age": {"$gt": 30}}}, expect={"count_max": 1}
    )

    assert passed.ok, passed.reason
    assert passed.values["count"] == 1
    assert failed.reason == "count found 2 documents, expected at most 1"


async def test_too_few_documents_fail_a_minimum(observe: Observe) -> None:
    result = await observe(count={"collection": "users", "filter": {"name": "eve"}}, expect={"count_min": 1})

    assert result.reason == "count found 0 documents, expected at least 1"
    assert result.values["count"] == 0


async def test_a_missing_collection_is_named_rather_than_counted_as_empty(observe: Observe) -> None:
    result = await observe(count={"collection": "user"})

    assert result.reason == "collection user does not exist in database app (did you mean users?)"


async def test_an_aggregation_value_is_judged_like_a_query(observe: Observe) -> None:
    pipeline = [{"$match": {"state": "failed"}}, {"$count": "failed"}]

    within = await observe(
        aggregate={"collection": "jobs", "pipeline": pipeline}, expect={"range": {"max": 5}}
    )
    equal = await observe(aggregate={"collection": "jobs", "pipeline": pipeline}, expect={"value": 0})

    assert within.ok, within.reason
    assert within.values["value"] == 2
    assert equal.reason == "aggregate returned 2, expected 0"


async def test_a_named_field_is_read_from_the_first_document(observe: Observe) -> None:
    pipeline = [{"$group": {"_id": None, "tries": {"$sum": "$tries"}, "jobs": {"$sum": 1}}}]

    result = await observe(aggregate={"collection": "jobs", "pipeline": pipeline, "field": "tries"})
    missing = await observe(aggregate={"collection": "jobs", "pipeline": pipeline, "field": "retries"})

    assert result.values["value"] == 6
    assert missing.reason == "aggregate's first document has no field retries"


async def test_an_aggregation_with_no_documents_fails_only_an_expectation(observe: Observe) -> None:
    pipeline = [{"$match": {"state": "lost"}}, {"$count": "n"}]

    assert (await observe(aggregate={"collection": "jobs", "pipeline": pipeline})).ok
    result = await observe(aggregate={"collection": "jobs", "pipeline": pipeline}, expect={"value": 0})
    assert result.reason == "aggregate returned no documents"


async def test_a_stage_the_server_refuses_is_its_reason(observe: Observe) -> None:
    result = await observe(aggregate={"collection": "jobs", "pipeline": [{"$teleport": {}}]})

    assert result.reason == "command failed: Unrecognized pipeline stage name: '$teleport'"


async def test_a_wrong_password_fails_without_showing_it(observe: Observe, mongo: MongoStandIn) -> None:
    mongo.requires_auth = True

    result = await observe(mongodb=f"mongodb://vigil:Wr0ng-Secret@127.0.0.1:{mongo.port}/app")

    assert result.reason == "authentication failed: check the user and password in the URL"
    assert "saslStart" in mongo.commands


async def test_a_refused_connection_names_the_address(observe: Observe, closed_port: int) -> None:
    result = await observe(mongodb=f"mongodb://vigil:Wr0ng-Secret@127.0.0.1:{closed_port}/app", timeout="2s")

    assert result.reason == f"connection refused (127.0.0.1:{closed_port})"


async def test_a_server_that_is_not_mongodb_is_named_as_such(observe: Observe, mongo: MongoStandIn) -> None:
    mongo.garbage = True

    result = await observe(timeout="2s")

    assert result.reason is not None
    assert result.reason.startswith(f"not a MongoDB server's answer (127.0.0.1:{mongo.port}): ")


async def test_a_server_that_never_answers_times_out(observe: Observe, silent_port: int) -> None:
    result = await observe(mongodb=f"mongodb://127.0.0.1:{silent_port}/", timeout="500ms")

    assert result.reason == f"timed out (127.0.0.1:{silent_port})"


async def test_an_unusable_url_is_a_failed_check(observe: Observe) -> None:
    result = await observe(mongodb="mongodb://vigil:pa:ss@127.0.0.1:1/app")

    assert result.reason is not None
    assert result.reason.startswith("unusable URL: ")
    assert "pa:ss" not in result.reason


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mongodb": "postgresql://h/db"}, "expected a mongodb:// or mongodb\\+srv:// URL"),
        ({"mongodb": "mongodb://h/db", "expect": {"count_min": 1}}, "no count is given"),
        ({"mongodb": "mongodb://h/db", "expect": {"value": 1}}, "no aggregate is given"),
        ({"mongodb": "mongodb://h/", "count": {"collection": "users"}}, "need a database"),
        (
            {
                "mongodb": "mongodb://h/db",
                "count": {"collection": "c"},
                "aggregate": {"collection": "c", "pipeline": [{"$count": "n"}]},
            },
            "not both",
        ),
        (
            {"mongodb": "mongodb://h/db", "aggregate": {"collection": "c", "pipeline": [{"$out": "x"}]}},
            "writes",
        ),
        ({"mongodb": "mongodb://h/db", "aggregate": {"collection": "c", "pipeline": []}}, "at least 1"),
        ({"mongodb": "mongodb://h/db", "expect": {"version_min": "seven"}}, "pattern"),
    ],
)
def test_a_check_that_cannot_work_is_refused_when_read(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MongoCheck.model_validate(fields)


def test_the_database_may_be_named_apart_from_the_url() -> None:
    check = MongoCheck.model_validate(
        {"mongodb": "mongodb://h/", "database": "app", "count": {"collection": "c"}}
    )

    assert check.database_name == "app"
