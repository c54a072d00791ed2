"""The chores on the local MariaDB, in a database the tests create and drop: sizes from
information_schema, a real ``SLEEP`` in the process list, idle sessions of another process
killed while the caller's own survives, and the chores MariaDB lacks refused with a reason."""

from __future__ import annotations

import asyncio

import aiomysql
import pytest

from tests.maintenance.chores.conftest import idle_sessions
from vigil.maintenance.chores.model import ChoreFailed, ChoreUnsupported
from vigil.maintenance.chores.service import DatabaseChores, chores_for
from vigil.probes.mysql import connect_args


def chores(url: str) -> DatabaseChores:
    return chores_for(url, None, {})


async def test_sizes_name_the_largest_tables_and_their_indexes(maria_url: str) -> None:
    sizes = await chores(maria_url).sizes()
    assert [t.name for t in sizes.tables] == ["orders", "notes"]
    assert sizes.tables[0].bytes > sizes.tables[1].bytes > 0 and 4000 <= (sizes.tables[0].rows or 0) <= 6000
    assert {(i.table, i.name) for i in sizes.indexes} >= {
        ("orders", "PRIMARY"),
        ("orders", "orders_by_customer"),
    }
    assert sizes.unused_indexes is None and "performance_schema" in sizes.note
    assert len((await chores(maria_url).sizes(limit=1)).tables) == 1


async def test_a_long_query_is_listed_from_the_process_list(maria_url: str) -> None:
    sleeper = await aiomysql.connect(**connect_args(maria_url))
    try:
        cursor = await sleeper.cursor()
        running = asyncio.create_task(cursor.execute("SELECT SLEEP(30) /* nightly report */"))
        await asyncio.sleep(1.5)
        found = await chores(maria_url).long_queries(1.0)
        assert [s.id for s in found] == [sleeper.thread_id()]
        assert found[0].query == "SELECT SLEEP(30) /* nightly report */" and found[0].seconds >= 1
        assert await chores(maria_url).long_queries(20.0) == []
        running.cancel()
    finally:
        sleeper.close()


async def test_kill_idle_lists_first_then_kills_only_others_sessions(maria_url: str) -> None:
    mine = await aiomysql.connect(**connect_args(maria_url))  # the caller's own, idle as long
    try:
        with idle_sessions(maria_url, 2) as others:
            await asyncio.sleep(2.1)  # the process list counts whole seconds
            listed = await chores(maria_url).kill_idle(1.0, kill=False)
            assert sorted(s.id for s in listed.sessions) == sorted(others)
            assert listed.dry_run and mine.thread_id() in listed.kept

            swept = await chores(maria_url).kill_idle(1.0, kill=True)
            assert sorted(swept.killed) == sorted(others) and swept.failed == {}
            assert (await chores(maria_url).kill_idle(1.0, kill=False)).sessions == []
        async with mine.cursor() as cursor:
            await cursor.execute("SELECT 1")
            assert await cursor.fetchone() == (1,)
    finally:
        mine.close()


async def test_vacuum_is_refused_with_what_to_use_instead(maria_url: str) -> None:
    with pytest.raises(ChoreUnsupported, match="vacuum is PostgreSQL's; on MariaDB run ANALYZE TABLE"):
        await chores(maria_url).vacuum(["orders"])


async def test_a_wrong_password_is_one_line_without_it() -> None:
    with pytest.raises(ChoreFailed) as failed:
        await chores("mysql://nobody:hunter22@127.0.0.1:3306/test").sizes()
    assert "hunter22" not in str(failed.value) and "\n" not in str(failed.value)
