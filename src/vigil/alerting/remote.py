"""Rule expressions sent to a real Prometheus (``prometheus: URL`` in the stack file) instead of
Vigil's own evaluator: for teams whose metrics already live there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vigil.alerting.evaluator import Query, Samples
from vigil.config.alerts import AlertRule
from vigil.config.secrets import redact_url
from vigil.errors import VigilError


class PrometheusQueryError(VigilError):
    """Prometheus refused or failed a query; the message carries its error text."""


def prometheus_query(url: str, client: httpx.AsyncClient, *, timeout: float = 10.0) -> Query:
    async def query(rule: AlertRule, at: float) -> Samples:
        data = await instant_query(url, client, rule.expr, at, wait=timeout)
        if data["resultType"] != "vector":
            raise PrometheusQueryError(
                f"an alert expression must return an instant vector, got {data['resultType']}"
            )
        return vector_samples(data)

    return query


async def instant_query(
    url: str, client: httpx.AsyncClient, expr: str, at: float, *, wait: float = 10.0
) -> dict[str, Any]:
    """Prometheus' answer to ``expr`` at ``at``: its ``data`` (``resultType`` and ``result``)."""
    endpoint = url.rstrip("/") + "/api/v1/query"
    try:
        answer = await client.get(endpoint, params={"query": expr, "time": f"{at:.3f}"}, timeout=wait)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as err:
        raise PrometheusQueryError(f"Prometheus at {redact_url(url)} did not answer: {err}") from None
    if body.get("status") != "success":
        raise PrometheusQueryError(
            f"Prometheus: {body.get('errorType', 'error')}: {body.get('error', answer.text[:200])}"
        )
    data: dict[str, Any] = body["data"]
    return data


def vector_samples(data: dict[str, Any]) -> Samples:
    out: list[tuple[Mapping[str, str], float]] = []
    for item in data["result"]:
        out.append((dict(item["metric"]), float(item["value"][1])))
    return out
