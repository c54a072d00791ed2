"""Prometheus' query API under /prometheus, over real HTTP against the app: parameters read as
Prometheus reads them (GET and POST forms), its JSON shapes, its error shapes, the bounds, and who
may read."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.server.conftest import served
from vigil.engine.clock import FakeClock
from vigil.metrics import query_api
from vigil.metrics.ranges import MAX_POINTS
from vigil.server.roles import Role
from vigil.server.runtime import Runtime
from vigil.server.tokens import create_token

OPEN = "server: {public_read: true}\nservices:\n  api:\n    checks:\n      health: {tcp: '127.0.0.1:9'}\n"
PRIVATE = OPEN.replace("server: {public_read: true}\n", "")
API = "/prometheus/api/v1"


def _fill(runtime: Runtime, clock: FakeClock) -> float:
    """Ten minutes of two series every 15 s, up to now; returns now."""
    now = clock.now().timestamp()
    for i in range(41):
        at = now - 600 + 15 * i
        runtime.series.append({"__name__": "up", "job": "api", "instance": "a:1"}, at, 1.0)
        runtime.series.append({"__name__": "up", "job": "db", "instance": "b:2"}, at, 0.0 if i > 30 else 1.0)
        runtime.series.append({"__name__": "requests_total", "job": "api"}, at, 10.0 * i)
        runtime.series.append(
            {"__name__": "odd", "job": "api"}, at, [math.nan, math.inf, -math.inf, 1e-7][i % 4]
        )
    return now


# One app for the module's read-only tests: building one (a migrated SQLite store) takes a second.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[httpx.AsyncClient, float]]:
    async with served(tmp_path_factory.mktemp("promapi"), OPEN) as (client, runtime, clock):
        yield client, _fill(runtime, clock)


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


async def test_an_instant_query_answers_a_vector_with_values_as_strings(
    api: tuple[httpx.AsyncClient, float],
) -> None:
    client, now = api
    data = await _ok(await client.get(f"{API}/query", params={"query": "up == 1", "time": str(now)}))
    assert data["resultType"] == "vector"
    assert [r["metric"]["job"] for r in data["result"]] == ["api"]
    assert data["result"][0]["value"] == [now, "1"]


async def test_a_post_form_is_read_like_a_query_string(api: tuple[httpx.AsyncClient, float]) -> None:
    client, now = api
    # Grafana posts its queries by default; the "1+1" is its "Save & test".
    data = await _ok(await client.post(f"{API}/query", data={"query": "1+1", "time": "4"}))
    assert data == {"resultType": "scalar", "result": [4, "2"]}
    got = await _ok(await client.post(f"{API}/query", data={"query": "sort_desc(up)", "time": f"{now}"}))
    assert [r["metric"]["job"] for r in got["result"]] == ["api", "db"]  # sort_desc's order is kept


async def test_values_are_spelled_as_prometheus_spells_them(api: tuple[httpx.AsyncClient, float]) -> None:
    client, now = api
    params = {"query": "odd", "start": str(now - 45), "end": str(now), "step": "15s"}
    data = await _ok(await client.get(f"{API}/query_range", params=params))
    [series] = data["result"]
    # The last four samples (i = 37…40) are inf, -inf, 1e-7 and NaN.
    assert [v for _, v in series["values"]] == ["+Inf", "-Inf", "0.0000001", "NaN"]


async def test_a_range_query_answers_a_matrix_sorted_by_labels(api: tuple[httpx.AsyncClient, float]) -> None:
    client, now = api
    params = {"query": "up", "start": str(now - 60), "end": str(now), "step": "30"}
    data = await _ok(await client.get(f"{API}/query_range", params=params))
    assert data["resultType"] == "matrix"
    assert [r["metric"]["job"] for r in data["result"]] == ["api", "db"]
    assert data["result"][1]["values"] == [[now - 60, "0"], [now - 30, "0"], [now, "0"]]


@pytest.mark.parametrize("start", ["2026-01-01T00:00:00Z", "1767225600", "1767225600.000"])
async def test_times_read_as_rfc3339_or_unix_seconds(
    api: tuple[httpx.AsyncClient, float], start: str
) -> None:
    client, now = api
    params = {"query": "sum(up)", "start": start, "end": start, "step": "1m30s"}
    data = await _ok(await client.get(f"{API}/query_range", params=params))
    assert data["result"][0]["values"][0][0] == 1767225600 == now


async def test_series_labels_and_values_follow_match(api: tuple[httpx.AsyncClient, float]) -> None:
    client, now = api
    series = await _ok(
        await client.get(f"{API}/series", params={"match[]": ['up{job="db"}', "requests_total"]})
    )
    assert series == [
        {"__name__": "requests_total", "job": "api"},
        {"__name__": "up", "instance": "b:2", "job": "db"},
    ]
    assert await _ok(await client.get(f"{API}/labels")) == ["__name__", "instance", "job"]
    names = await _ok(await client.post(f"{API}/labels", data={"match[]": "requests_total"}))
    assert names == ["__name__", "job"]
    values = await _ok(await client.get(f"{API}/label/__name__/values"))
    assert values == ["odd", "requests_total", "up"]
    limited = (await client.get(f"{API}/label/__name__/values", params={"limit": "2"})).json()
    assert limited["data"] == ["odd", "requests_total"] and limited["warnings"]
    first = (await client.get(f"{API}/series", params={"match[]": "up", "limit": "1"})).json()
    assert first["data"] == [{"__name__": "up", "instance": "a:1", "job": "api"}]
    assert first["warnings"] == ["results truncated due to limit"]
    whole = (await client.get(f"{API}/labels", params={"limit": "3"})).json()
    assert whole["data"] == ["__name__", "instance", "job"] and "warnings" not in whole
    # Outside the window nothing is found.
    old = await _ok(await client.get(f"{API}/series", params={"match[]": "up", "end": str(now - 3600)}))
    assert old == []


async def test_what_grafana_asks_on_connect_is_answered(api: tuple[httpx.AsyncClient, float]) -> None:
    client, _ = api
    info = await _ok(await client.get(f"{API}/status/buildinfo"))
    assert info["version"].startswith("2.") and "features" not in info  # Grafana: "a Prometheus"
    assert await _ok(await client.get(f"{API}/metadata")) == {}
    assert await _ok(await client.get(f"{API}/query_exemplars", params={"query": "up"})) == []


def _error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == error_type, body
    assert set(body) == {"status", "errorType", "error"}
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return str(body["error"])


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("query", {"query": "up{"}, 'invalid parameter "query"'),
        ("query", {"query": ""}, "no expression found"),
        ("query", {"query": "nope_function(up)"}, "nope_function"),
        ("query", {"query": "up", "time": "yesterday"}, 'cannot parse "yesterday" to a valid timestamp'),
        ("query", {"query": "up", "timeout": "soon"}, 'invalid parameter "timeout"'),
        ("query", {"query": "x" * (query_api.MAX_QUERY_CHARS + 1)}, "characters"),
        ("query_range", {"query": "up", "end": "10", "step": "1"}, 'invalid parameter "start"'),
        (
            "query_range",
            {"query": "up", "start": "10", "end": "5", "step": "1"},
            "end timestamp must not be before",
        ),
        ("query_range", {"query": "up", "start": "0", "end": "5", "step": "0"}, "zero or negative"),
        ("query_range", {"query": "up", "start": "0", "end": "5", "step": "1x"}, 'invalid parameter "step"'),
        (
            "query_range",
            {"query": "up", "start": "0", "end": str(MAX_POINTS + 1), "step": "1"},
            "11,000 points",
        ),
        ("series", {}, "no match[] parameter provided"),
        ("series", {"match[]": "sum(up)"}, "not a series selector"),
        ("labels", {"limit": "-1"}, 'invalid parameter "limit"'),
        ("label/1bad/values", {}, "invalid label name"),
    ],
)
async def test_bad_requests_answer_prometheus_bad_data(
    api: tuple[httpx.AsyncClient, float], path: str, params: dict[str, str], words: str
) -> None:
    client, _ = api
    response = await client.post(f"{API}/{path}", data=params) if path == "series" else None
    response = response or await client.get(f"{API}/{path}", params=params)
    assert words in _error(response, 400, "bad_data")


async def test_an_evaluation_error_is_422_execution(api: tuple[httpx.AsyncClient, float]) -> None:
    client, _ = api
    # Two series on the right match one on the left: many-to-many, refused at evaluation.
    response = await client.get(f"{API}/query", params={"query": 'up{job="api"} + on() up'})
    assert "many" in _error(response, 422, "execution")


async def test_a_query_past_its_timeout_is_503_timeout(api: tuple[httpx.AsyncClient, float]) -> None:
    client, now = api
    params = {"query": "rate(requests_total[5m])", "start": str(now - 86400), "end": str(now), "step": "15"}
    response = await client.get(f"{API}/query_range", params={**params, "timeout": "1ms"})
    assert "timed out" in _error(response, 503, "timeout")


async def test_too_many_series_is_refused(tmp_path: Path) -> None:
    # The stack file lowers the bound so that the test holds a handful of series.
    async with served(tmp_path, OPEN + "metrics: {query_max_series: 1}\n") as (client, runtime, clock):
        now = _fill(runtime, clock)
        at = {"start": now, "end": now, "step": 1}
        response = await client.get(f"{API}/query_range", params={"query": "up", **at})
        assert "at most 1 " in _error(response, 422, "execution")
        response = await client.get(f"{API}/query", params={"query": "up", "time": now})
        assert "at most 1 " in _error(response, 422, "execution")
        response = await client.get(f"{API}/series", params={"match[]": "up", **at})
        assert "at most 1 " in _error(response, 422, "execution")
        one = await client.get(f"{API}/query", params={"query": 'up{job="api"}', "time": now})
        assert one.status_code == 200, one.text


async def test_unknown_paths_and_methods_keep_prometheus_shape(api: tuple[httpx.AsyncClient, float]) -> None:
    client, _ = api
    _error(await client.get(f"{API}/nope"), 404, "not_found")
    _error(await client.delete(f"{API}/query"), 405, "bad_data")


async def test_a_private_stack_needs_a_viewer_token(tmp_path: Path) -> None:
    async with served(tmp_path, PRIVATE) as (client, runtime, clock):
        _fill(runtime, clock)
        refused = await client.get(f"{API}/query", params={"query": "up"})
        assert "bearer token" in _error(refused, 401, "unauthorized")
        token = await create_token(runtime.engine, runtime.clock, "grafana", Role.VIEWER)
        headers = {"Authorization": f"Bearer {token}"}
        data = await _ok(await client.post(f"{API}/query", data={"query": "up"}, headers=headers))
        assert len(data["result"]) == 2
