"""The oracle for range queries: Vigil's ``/prometheus/api/v1/query_range`` answers as a real
Prometheus' ``/api/v1/query_range`` does, point by point.

The real Prometheus of ``test_promql_oracle`` scrapes the demo target (restarted once, so that
counters reset and series go stale); Vigil's series store is loaded with the very samples
Prometheus stored, as that oracle does, since two scrapers never sample at the same instants and a
point-by-point comparison needs the same samples. Both are then asked the same ``query_range``
over HTTP, at steps that fall between scrapes, and must agree: the same series, the same
timestamps, values within 1e-9 relative (NaN equals NaN).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.metrics.test_promql_oracle import Oracle, oracle  # noqa: F401 - the real Prometheus fixture
from tests.server.conftest import served

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

REL_TOL = 1e-9
EXPRESSIONS = [
    "up",
    "demo_queue_depth",
    'http_requests_total{status=~"5.."}',
    "rate(http_requests_total[10s])",
    "increase(http_requests_total[20s])",
    "sum by (path) (rate(http_requests_total[30s]))",
    "avg_over_time(demo_queue_depth[15s])",
    "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[20s])))",
    "http_requests_total > 20",
    "time() - 60",
    "scalar(sum(up))",
    "topk(2, http_requests_total)",
]
STACK = "server: {public_read: true}\nservices:\n  api:\n    checks:\n      health: {tcp: '127.0.0.1:9'}\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def vigil(
    oracle: Oracle,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx.AsyncClient]:
    async with served(tmp_path_factory.mktemp("oracle-api"), STACK) as (client, runtime, _clock):
        runtime.series = oracle.store  # read by the API at each request
        yield client


def _matrix(body: Any, who: str) -> dict[frozenset[tuple[str, str]], list[tuple[float, float]]]:
    assert body["status"] == "success", f"{who}: {body}"
    assert body["data"]["resultType"] == "matrix", f"{who}: {body['data']['resultType']}"
    return {
        frozenset(s["metric"].items()): [(float(t), float(v)) for t, v in s["values"]]
        for s in body["data"]["result"]
    }


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL_TOL)


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=EXPRESSIONS)
async def test_query_range_answers_as_prometheus_does(
    oracle: Oracle,  # noqa: F811
    vigil: httpx.AsyncClient,
    expr: str,
) -> None:
    # From before the outage to the end, at an odd step: edges between scrapes, stale spans inside.
    params = {"query": expr, "start": f"{oracle.times[0] - 8.5:.3f}", "end": f"{oracle.times[-1]:.3f}"}
    params["step"] = "0.7"
    async with httpx.AsyncClient(timeout=10.0) as prometheus:
        expected = _matrix(
            (await prometheus.get(oracle.prometheus + "/api/v1/query_range", params=params)).json(),
            "Prometheus",
        )
    got = _matrix((await vigil.get("/prometheus/api/v1/query_range", params=params)).json(), "Vigil")
    missing = [dict(k) for k in expected.keys() - got.keys()]
    extra = [dict(k) for k in got.keys() - expected.keys()]
    assert not missing and not extra, f"{expr}: series only Prometheus has {missing}, only Vigil {extra}"
    assert sum(len(points) for points in expected.values()) > 10, f"{expr}: a vacuous comparison"
    for key, points in expected.items():
        mine = got[key]
        assert [t for t, _ in mine] == [t for t, _ in points], f"{expr} {dict(key)}: timestamps differ"
        wrong = [(t, v, w) for (t, v), (_, w) in zip(mine, points, strict=True) if not _same(v, w)]
        assert not wrong, f"{expr} {dict(key)}: (time, Vigil, Prometheus) differ at {wrong[:5]}"
