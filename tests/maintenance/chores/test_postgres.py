"""The chores on the local PostgreSQL, in a database the tests create and drop, with real idle
sessions of another process, a session of the caller's own, and a real ``pg_sleep``."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.maintenance.chores.conftest import idle_sessions
from vigil.maintenance.chores.model import ChoreFailed, ChoreInputError
from vigil.maintenance.chores.service import DatabaseChores, chores_for


def chores(url: str) -> DatabaseChores:
    return chores_for(url, None, {})


async def test_sizes_name_the_largest_tables_and_the_index_no_query_used(pg_url: str) -> None:
    sizes = await chores(pg_url).sizes()
    assert [t.name for t in sizes.tables] == ["orders", "notes"]
    assert sizes.tables[0].rows == 5000 and sizes.tables[0].bytes > sizes.tables[1].bytes > 0
    assert {i.name for i in sizes.indexes} == {
        "orders_pkey",
        "orders_by_customer",
        "orders_by_note",
        "notes_pkey",
    }
    # Keys are never "unused": they enforce something even when no query reads them.
    assert [(i.name, i.table, i.scans) for i in sizes.unused_indexes or []] == [
        ("orders_by_note", "orders", 0)
    ]
    assert "index scans counted since" in sizes.note


async def test_every_listing_is_bounded(pg_url: str) -> None:
    sizes = await chores(pg_url).sizes(limit=1)
    assert len(sizes.tables) == len(sizes.indexes) == 1
    for wrong in (0, 501):
        with pytest.raises(ChoreInputError, match="--limit must be 1 to 500"):
            await chores(pg_url).sizes(limit=wrong)


async def test_a_long_query_is_listed_with_its_text_and_age(pg_url: str) -> None:
    sleeper = await asyncpg.connect(pg_url)
    try:
        running = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30) /* nightly report */"))
        await asyncio.sleep(1.2)
        found = await chores(pg_url).long_queries(1.0)
        assert [s.id for s in found] == [sleeper.get_server_pid()]
        assert found[0].query == "SELECT pg_sleep(30) /* nightly report */"
        assert 1.0 <= found[0].seconds < 10 and found[0].state == "active"
        assert await chores(pg_url).long_queries(20.0) == []
        running.cancel()
    finally:
        sleeper.terminate()


async def test_kill_idle_lists_first_then_ends_only_others_sessions(pg_url: str) -> None:
    mine = await asyncpg.connect(pg_url)  # the caller's own session, idle as long as the others
    try:
        with idle_sessions(pg_url, 3) as others:
            await asyncio.sleep(1.2)
            listed = await chores(pg_url).kill_idle(1.0, kill=False)
            assert sorted(s.id for s in listed.sessions) == sorted(others)
            assert listed.dry_run and listed.killed == [] and mine.get_server_pid() in listed.kept
            assert await _alive(pg_url, others) == set(others)  # a dry run ends nothing

            swept = await chores(pg_url).kill_idle(1.0, kill=True)
            assert sorted(swept.killed) == sorted(others) and swept.failed == {}
            assert await _alive(pg_url, others, set()) == set()
        assert await mine.fetchval("SELECT 1") == 1
    finally:
        await mine.close()


async def test_kill_idle_ends_no_session_that_is_busy_or_kept(pg_url: str) -> None:
    with idle_sessions(pg_url, 2) as others:
        await asyncio.sleep(1.2)
        swept = await chores(pg_url).kill_idle(1.0, kill=True, keep=frozenset(others[:1]), limit=5)
        assert swept.killed == others[1:] and others[0] in swept.kept
        assert await _alive(pg_url, others, {others[0]}) == {others[0]}
        # Idle only briefly: below the age, so left alone.
        assert (await chores(pg_url).kill_idle(60.0, kill=True)).sessions == []


async def _alive(url: str, pids: list[int], expected: set[int] | None = None) -> set[int]:
    """Which of ``pids`` are sessions still, once they are ``expected`` (or 5 s have passed)."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 5
        while True:  # a terminated backend leaves pg_stat_activity a moment later
            rows = {
                r[0] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)", pids)
            }
            if time.monotonic() > deadline or rows == (rows if expected is None else expected):
                return rows
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_vacuum_a_named_table_and_the_whole_database(pg_url: str) -> None:
    done = await chores(pg_url).vacuum(["orders", "public.notes"])
    assert done.tables == ["public.orders", "public.notes"] and done.analyze and done.seconds >= 0
    whole = await chores(pg_url).vacuum(analyze=False)
    assert whole.tables == [] and not whole.analyze
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'notes'"
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (["nosuch"], "no table 'nosuch' in this database"),
        (['orders; DROP TABLE orders"'], "table 'orders; DROP TABLE orders\"'"),
        (["t"] * 101, "at most 100 tables to one vacuum, not 101"),
    ],
)
async def test_vacuum_refuses_what_is_not_a_table(pg_url: str, tables: list[str], message: str) -> None:
    with pytest.raises(ChoreInputError, match=message.replace("(", r"\(")):
        await chores(pg_url).vacuum(tables)


async def test_a_server_that_does_not_answer_is_one_line_without_the_password() -> None:
    with pytest.raises(ChoreFailed) as failed:
        await chores("postgresql://app:hunter22@127.0.0.1:9/app").sizes()
    assert "127.0.0.1:9" in str(failed.value) and "hunter22" not in str(failed.value)
