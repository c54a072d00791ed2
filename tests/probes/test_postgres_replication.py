"""``postgres`` with ``stats: true`` on a real primary and its real streaming standby (both
private: ``initdb`` + ``pg_ctl`` with ``wal_level=replica``, the standby made by
``pg_basebackup -R``), for ``replicas`` and ``replication_lag_seconds``
(``vigil_postgres_replication_lag_seconds``) on each side: caught up, and behind while the
standby's replay is paused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.probes import conftest
from tests.probes.scratch_postgres import scratch_cluster, scratch_standby
from vigil.probes.base import Observation
from vigil.probes.postgres import KIND, METRICS


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL); the standby streams from the primary. Both stop at the end."""
    with scratch_cluster("wal_level=replica", "max_wal_senders=4") as primary:
        port = urlsplit(primary).port
        assert port is not None
        with scratch_standby(port, "hot_standby=on", "wal_receiver_status_interval=1s") as standby:
            yield primary, standby


async def observe(url: str) -> Observation:
    observation = await conftest.observe(KIND, postgres=url, stats=True)
    assert observation.ok, observation.reason
    return observation


async def value(url: str, query: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def until(url: str, query: str, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await value(url, query):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        await asyncio.sleep(0.1)


CAUGHT_UP = "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"


async def test_the_metric_is_documented_under_the_name_the_readme_lists() -> None:
    names = {m.name for m in METRICS}
    assert {"vigil_postgres_replication_lag_seconds", "vigil_postgres_replicas"} <= names


async def test_a_caught_up_pair_reports_one_replica_and_no_lag_on_both_sides(pair: tuple[str, str]) -> None:
    primary, standby = pair
    await until(
        primary, "SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'", "streaming"
    )
    await until(standby, CAUGHT_UP, "the standby to catch up")

    on_primary = (await observe(primary)).values
    assert on_primary["replicas"] == 1
    assert 0 <= on_primary["replication_lag_seconds"] < 5
    on_standby = (await observe(standby)).values
    assert on_standby["replicas"] == 0
    assert on_standby["replication_lag_seconds"] == 0  # nothing received is left to replay


async def test_a_standby_whose_replay_is_paused_falls_behind_and_catches_up(pair: tuple[str, str]) -> None:
    primary, standby = pair
    await value(primary, "CREATE TABLE IF NOT EXISTS beats (at timestamptz)")
    await value(primary, "INSERT INTO beats VALUES (now())")
    # Replayed up to the write itself: "caught up" alone may hold before the write has arrived,
    # and a standby that has replayed no transaction since its start has no replay time to age.
    written = await value(primary, "SELECT pg_current_wal_lsn()::text")
    await until(
        standby,
        f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn",
        "the standby to replay the first write",
    )
    await value(standby, "SELECT pg_wal_replay_pause()")
    try:
        await asyncio.sleep(1.5)
        await value(primary, "INSERT INTO beats VALUES (now())")
        await until(
            standby, "SELECT NOT (" + CAUGHT_UP + ")", "the standby to receive what it does not replay"
        )
        await asyncio.sleep(0.5)
        behind = (await observe(standby)).values["replication_lag_seconds"]
        assert behind >= 1.5  # since the last transaction it replayed, before the pause
        on_primary = (await observe(primary)).values["replication_lag_seconds"]
        assert on_primary > 0
    finally:
        await value(standby, "SELECT pg_wal_replay_resume()")
    await until(standby, CAUGHT_UP, "the standby to catch up again")
    assert (await observe(standby)).values["replication_lag_seconds"] == 0
