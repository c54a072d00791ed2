"""One error shape: FastAPI's own 404/405/422 and an unexpected 500 answer ``{"error": …}``
like Vigil's errors (a 500 with a request id the log line carries, no traceback), and the
OpenAPI document declares each error an operation gives, with the right media types."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.server.conftest import served

STACK = """
server: {public_read: true}
services:
  api:
    checks:
      health: {tcp: "127.0.0.1:9", every: 1h, alert: false}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, _clock):
        yield {"client": client, "runtime": runtime}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/api/v1/nothing-here", None, 404, "nothing at GET /api/v1/nothing-here"),
        ("DELETE", "/api/v1/incidents", None, 405, "takes GET"),
        ("GET", "/api/v1/incidents/abc", None, 422, "path.incident_id: input should be a valid integer"),
        ("GET", "/api/v1/incidents?limit=0", None, 422, "query.limit"),
        ("POST", "/api/v1/silences", "{not json", 401, "bearer token"),
    ],
)
async def test_framework_errors_answer_the_one_json_shape(
    setup: dict[str, Any], method: str, path: str, body: str | None, status: int, says: str
) -> None:
    answer = await setup["client"].request(method, path, content=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert list(answer.json()) == ["error"]
    assert says in answer.json()["error"]
    if status == 405:
        assert answer.headers["allow"] == "GET"


async def test_an_unexpected_failure_is_a_json_500_with_the_request_id_of_its_log_line(
    setup: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with setup["runtime"].engine.begin() as conn:  # the store loses a table under the server
        await conn.execute(text("DROP TABLE incident_events"))
        await conn.execute(text("DROP TABLE incidents"))
    with caplog.at_level(logging.ERROR, logger="vigil.server"):
        answer = await setup["client"].get("/api/v1/incidents")
    assert answer.status_code == 500
    body = answer.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] in body["error"]
    assert answer.headers["x-request-id"] == body["request_id"]
    assert "Traceback" not in answer.text and "no such table" not in answer.text
    [record] = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert "GET /api/v1/incidents failed: OperationalError" in record.getMessage()


async def test_the_openapi_document_declares_each_operation_s_errors(setup: dict[str, Any]) -> None:
    document = (await setup["client"].get("/openapi.json")).json()
    paths = document["paths"]

    def codes(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert codes("/api/v1/incidents/{incident_id}/acknowledge", "post") >= {"401", "403", "404", "409", "422"}
    assert codes("/api/v1/silences", "post") >= {"201", "401", "403", "413", "422", "500"}
    assert "409" not in codes("/api/v1/silences", "post")
    assert codes("/api/v1/incidents/{incident_id}", "get") >= {"404", "422"}
    assert codes("/api/v1/alertmanager", "post") >= {"401", "403", "413", "422", "429"}
    assert codes("/api/v1/incidents", "get") >= {"401", "429"}  # a guesser is held back on reads too
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and status != "503":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    silence = document["components"]["schemas"]["SilenceBody"]["properties"]["matchers"]["items"]
    assert {"type": "string", "minLength": 1, "maxLength": 1000} in silence["anyOf"]


async def test_every_operation_has_its_own_operation_id(setup: dict[str, Any]) -> None:
    """OpenAPI requires operation ids unique in the document; client generators key on them.
    The Prometheus routes answer GET and POST alike, each under its own id."""
    document = (await setup["client"].get("/openapi.json")).json()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    query = document["paths"]["/prometheus/api/v1/query"]
    assert query["get"]["operationId"] != query["post"]["operationId"]
