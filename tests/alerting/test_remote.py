"""Rule expressions sent to a real Prometheus (``prometheus: URL``): samples come back as alerts'
input, and Prometheus' own errors come back as one line."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.metrics.test_scrape import scrapes_done, start_prometheus
from vigil.alerting.remote import PrometheusQueryError, prometheus_query
from vigil.config.alerts import AlertRule


async def test_rules_evaluated_by_a_real_prometheus(tmp_path: Path) -> None:
    process, url = start_prometheus(tmp_path, {"self": "127.0.0.1:1"})
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as client:
            await scrapes_done(client, {"self"}, 2)
            query = prometheus_query(url, client)
            samples = await query(AlertRule(name="TargetDown", expr="up == 0"), time.time())
            assert [(dict(labels)["job"], value) for labels, value in samples] == [("self", 0.0)]
            assert await query(AlertRule(name="Fine", expr="up == 1"), time.time()) == []
            with pytest.raises(PrometheusQueryError, match="bad_data"):
                await query(AlertRule(name="Broken", expr="rate(up[5m]"), time.time())
            with pytest.raises(PrometheusQueryError, match="instant vector, got scalar"):
                await query(AlertRule(name="Scalar", expr="1 + 1"), time.time())
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_an_unreachable_prometheus_is_a_clear_error() -> None:
    async with httpx.AsyncClient() as client:
        query = prometheus_query("http://127.0.0.1:1", client)
        with pytest.raises(PrometheusQueryError, match="did not answer"):
            await query(AlertRule(name="X", expr="up"), 0.0)
