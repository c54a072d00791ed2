"""Results in the real store, on SQLite and on PostgreSQL: migrations, batches, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import FakeClock
from vigil.errors import StoreError
from vigil.probes.base import Result
from vigil.store.database import async_url, open_database
from vigil.store.results import ResultStore, ResultWriter


def result(clock: FakeClock, check_id: str = "api.health", ok: bool = True, **values: float) -> Result:
    return Result(check_id, ok, 12.5, clock.now(), None if ok else "status 500, expected 200", values)


async def test_opening_a_database_creates_the_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert {"results", "alembic_version"} <= set(tables)


async def test_results_come_back_newest_first_with_their_values(engine: AsyncEngine) -> None:
    clock = FakeClock()
    store = ResultStore(engine)
    first = result(clock, latency_ms=10.0)
    await clock.advance(30)
    second = result(clock, ok=False)
    await store.add_many([first, second, result(clock, check_id="db.ping")])
    recent = await store.recent("api.health")
    assert [r.ok for r in recent] == [False, True]
    assert recent[0].reason == "status 500, expected 200"
    assert recent[1].values == {"latency_ms": 10.0}
    assert recent[1].started_at == first.started_at


async def test_the_writer_batches_and_prunes_results_older_than_the_retention(engine: AsyncEngine) -> None:
    clock = FakeClock()
    store = ResultStore(engine)
    writer = ResultWriter(store, retention=3600, clock=clock, prune_every=0)
    await writer.accept(result(clock))
    await writer.flush()
    await clock.advance(7200)
    await writer.accept(result(clock))
    await writer.flush()
    recent = await store.recent("api.health")
    assert len(recent) == 1
    assert recent[0].started_at == clock.now() - timedelta(seconds=0)


async def test_reopening_a_database_keeps_its_results(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vigil.db"
    engine = await open_database(url)
    await ResultStore(engine).add_many([result(FakeClock())])
    await engine.dispose()
    engine = await open_database(url)
    assert len(await ResultStore(engine).recent("api.health")) == 1
    await engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/test", "database 'mysql' is not supported; use SQLite or PostgreSQL"),
        ("not a url", "is not a URL"),
    ],
)
def test_unsupported_database_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        async_url(url)


async def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    with pytest.raises(StoreError) as caught:
        await open_database("postgresql://vigil:hunter22@127.0.0.1:1/vigil")
    assert "hunter22" not in str(caught.value)
    assert "cannot open the state database" in str(caught.value)
    assert "\n" not in str(caught.value)
