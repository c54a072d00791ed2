"""``postgres`` with ``stats: true`` on a private cluster of 10 connections, loaded by the test
itself (held connections, a transaction holding a row lock and a query waiting for it), and a
rule over the samples of such a check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.probes import conftest
from tests.probes.scratch_postgres import scratch_cluster
from vigil.alerting.evaluator import RuleEvaluator
from vigil.alerting.local import LocalQuery
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService
from vigil.metrics.samples import result_samples
from vigil.metrics.store import SeriesStore
from vigil.probes.base import Observation, Result
from vigil.probes.postgres import KIND, PostgresCheck

MAX_CONNECTIONS = 10


@pytest.fixture(scope="module")
def small_postgres() -> Iterator[str]:
    with scratch_cluster(f"max_connections={MAX_CONNECTIONS}", "superuser_reserved_connections=0") as url:
        yield url


async def observe(url: str, **fields: Any) -> Observation:
    return await conftest.observe(KIND, postgres=url, stats=True, **fields)


@asynccontextmanager
async def held(url: str, n: int) -> AsyncIterator[list[asyncpg.Connection]]:
    """``n`` connections held open (idle) for the duration."""
    connections = [await asyncpg.connect(url) for _ in range(n)]
    try:
        yield connections
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_an_idle_server_reports_its_numbers_without_the_checks_own_connection(
    small_postgres: str,
) -> None:
    observation = await observe(small_postgres)

    assert observation.ok, observation.reason
    values = observation.values
    assert values["connections_used"] == 0
    assert values["connections_max"] == MAX_CONNECTIONS
    assert values["connections_used_ratio"] == 0
    assert values["longest_query_seconds"] == values["longest_transaction_seconds"] == 0
    assert values["blocked_backends"] == 0
    assert values["database_size_bytes"] > 1_000_000
    assert 0 < values["cache_hit_ratio"] <= 1
    assert values["replicas"] == 0
    assert "replication_lag_seconds" not in values  # neither a primary with standbys nor a standby


async def test_held_connections_count_against_max_connections(small_postgres: str) -> None:
    async with held(small_postgres, 8):
        observation = await observe(small_postgres)

    assert observation.values["connections_used"] == 8
    assert observation.values["connections_used_ratio"] == 0.8


async def test_a_query_waiting_on_a_row_lock_is_a_blocked_backend_under_a_long_transaction(
    small_postgres: str,
) -> None:
    async with held(small_postgres, 2) as (holder, waiter):
        await holder.execute("CREATE TABLE IF NOT EXISTS jobs (id int PRIMARY KEY, state text)")
        await holder.execute("INSERT INTO jobs VALUES (1, 'new') ON CONFLICT DO NOTHING")
        lock = holder.transaction()
        await lock.start()
        await holder.execute("UPDATE jobs SET state = 'taken' WHERE id = 1")
        waiting = asyncio.create_task(waiter.execute("UPDATE jobs SET state = 'also' WHERE id = 1"))
        await asyncio.sleep(0.05)  # the waiting query has run a measurable time when observed
        try:
            observation = await eventually_blocked(small_postgres)
        finally:
            await lock.rollback()
            await waiting

    assert observation.values["blocked_backends"] == 1
    assert observation.values["longest_transaction_seconds"] > 0
    assert observation.values["longest_query_seconds"] > 0  # the waiting UPDATE is still running


async def eventually_blocked(url: str) -> Observation:
    deadline = time.monotonic() + 5
    while True:
        observation = await observe(url)
        if observation.values.get("blocked_backends") or time.monotonic() > deadline:
            return observation
        await asyncio.sleep(0.02)


async def test_the_checks_query_is_kept_beside_the_stats(small_postgres: str) -> None:
    observation = await observe(small_postgres, query="SELECT 41 + 1", expect={"value": 42})

    assert observation.ok, observation.reason
    assert observation.values["value"] == 42
    assert "connections_used" in observation.values


async def test_the_server_stops_a_query_that_outlives_the_checks_timeout(small_postgres: str) -> None:
    started = time.monotonic()
    observation = await observe(small_postgres, query="SELECT pg_sleep(30)", timeout="0.3s")

    assert time.monotonic() - started < 3
    assert observation.reason == "query failed: canceling statement due to statement timeout"
    assert "connections_used" in observation.values


STACK = """
notify:
  channels: {log: {log: true}}
  default: [log]
services:
  postgres:
    checks:
      health:
        postgres: {url}
        stats: true
alerts:
  - name: PostgresConnectionsHigh
    expr: vigil_postgres_connections_used_ratio > 0.8
    for: 5m
    severity: P2
"""


async def test_a_connections_rule_fires_after_5m_over_80_percent_and_resolves_after(
    small_postgres: str, tmp_path: Path
) -> None:
    from vigil.store.database import open_database

    clock = FakeClock()
    stack = parse_stack("t.yaml", STACK.replace("{url}", small_postgres), {})
    [spec] = stack.specs()
    assert isinstance(spec.config, PostgresCheck)
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    incidents = IncidentService(engine, stack.model, clock)
    series = SeriesStore()
    rules = stack.model.alerts
    query = LocalQuery(rules, series)
    evaluator = RuleEvaluator(rules, query, incidents, clock, every=60, cycle=query.cycle)
    probe = KIND.factory()

    async def minute() -> None:
        """One real check, its samples in the store, one rule evaluation, a minute later."""
        observation = await probe.observe(spec.config)
        result = Result(spec.id, observation.ok, 1.0, clock.now(), observation.reason, observation.values)
        series.append_many(result_samples(result, "postgres"))
        await evaluator.evaluate_once()
        await clock.advance(60)

    try:
        await minute()
        async with held(small_postgres, 9):  # 9 of 10: 90%
            for _ in range(5):
                await minute()
            assert await incidents.list() == []  # pending, not yet 5 minutes
            await minute()
            [incident] = await incidents.list()
            assert str(incident.status) == "triggered"
            assert "PostgresConnectionsHigh" in incident.title
        await minute()
        await minute()
        assert str((await incidents.get(incident.id)).status) == "resolved"
    finally:
        await probe.close()
        await engine.dispose()
