"""Outcomes of claimed outbox rows written many to a transaction, on SQLite and on PostgreSQL:
one UPDATE per flush, each row under its own claim; a flush that fails is kept and tried again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.store.test_outbox import message, put
from vigil.engine.clock import FakeClock
from vigil.notify.base import OutboxStatus
from vigil.store import outbox, outbox_results
from vigil.store.outbox import OutboxEntry
from vigil.store.outbox_results import Outcome
from vigil.store.write_batch import WriteBatch


async def claimed(
    engine: AsyncEngine, clock: FakeClock, count: int, *, lease: float = 60
) -> list[OutboxEntry]:
    await put(engine, clock, [message(f"m{n:03}") for n in range(count)])
    return await outbox.due(engine, clock.now(), count, lease=lease)


def count_updates(engine: AsyncEngine) -> list[str]:
    """The UPDATE statements that will run on ``engine`` (claims, made as a CTE, start WITH)."""
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            seen.append(statement)

    return seen


async def test_outcomes_that_arrive_together_are_one_update_each_row_with_its_own_values(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock()
    rows = await claimed(engine, clock, 60)
    updates = count_updates(engine)
    batch = outbox_results.results_batch(engine)
    retry_at = clock.now() + timedelta(seconds=5)
    outcomes = [
        outbox_results.delivered(row, clock.now())
        if n % 3 == 0
        else outbox_results.failed(row, f"answered 503 ({n})", retry_at)
        if n % 3 == 1
        else outbox_results.failed(row, "answered 404", None)
        for n, row in enumerate(rows)
    ]
    # Sixty senders finishing at once, each waiting for its own answer.
    answers = await asyncio.gather(*(batch.submit(o) for o in outcomes))
    assert answers == [True] * 60
    assert (batch.flushes, len(updates)) == (1, 1)
    for n, row in enumerate(rows):
        got = await outbox.get(engine, row.key)
        assert got is not None and (got.leased_until, got.lease_token, got.attempts) == (None, None, 1)
        if n % 3 == 0:
            assert (got.status, got.delivered_at, got.last_error) == (
                OutboxStatus.DELIVERED,
                clock.now(),
                None,
            )
        elif n % 3 == 1:
            assert (got.status, got.next_attempt_at, got.last_error) == (
                OutboxStatus.PENDING,
                retry_at,
                f"answered 503 ({n})",
            )
        else:
            assert (got.status, got.last_error) == (OutboxStatus.FAILED, "answered 404")


async def test_a_flush_that_fails_once_keeps_its_outcomes_and_writes_them_once_after(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rows = await claimed(engine, clock, 20)
    calls: list[tuple[int, bool]] = []  # each flush: how many outcomes, and whether failing then

    async def flaky(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> list[bool]:
        # The UPDATE runs, then the connection fails before the commit: nothing of it stays.
        answers = await outbox_results.record(conn, outcomes)
        calls.append((len(outcomes), batch.failing is not None))
        if len(calls) == 1:
            raise OperationalError("COMMIT", None, ConnectionResetError("the server closed the connection"))
        return answers

    batch: WriteBatch[Outcome, bool] = WriteBatch(engine, flaky, name="outbox results")
    with caplog.at_level(logging.WARNING, logger="vigil.store"):
        answers = await batch.submit_many([outbox_results.delivered(r, clock.now()) for r in rows])
    assert answers == [True] * 20
    assert calls == [(20, False), (20, True)]
    assert (batch.failing, batch.backlog, batch.flushes) == (None, 0, 1)
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 2
    assert told[0].startswith(
        "cannot write outbox results (20 waiting; kept and tried again): OperationalError"
    )
    assert told[1] == "writing outbox results works again"
    for row in rows:
        got = await outbox.get(engine, row.key)
        assert got is not None and (got.status, got.attempts) == (OutboxStatus.DELIVERED, 1)


async def test_an_outcome_whose_claim_passed_to_another_changes_nothing(engine: AsyncEngine) -> None:
    clock = FakeClock()
    [mine] = await claimed(engine, clock, 1, lease=0.2)
    await asyncio.sleep(0.25)  # the lease ran out; another worker claims the row
    [theirs] = await outbox.due(engine, clock.now(), 10, lease=60)
    batch = outbox_results.results_batch(engine)
    assert await batch.submit(outbox_results.delivered(mine, clock.now())) is False
    got = await outbox.get(engine, mine.key)
    assert got is not None and (got.status, got.lease_token) == (OutboxStatus.PENDING, theirs.lease_token)
    # The same row twice in one flush: the first outcome is written, the repeat finds it done.
    answers = await asyncio.gather(
        batch.submit(outbox_results.failed(theirs, "answered 503", clock.now())),
        batch.submit(outbox_results.delivered(theirs, clock.now())),
    )
    assert answers == [True, False]
    got = await outbox.get(engine, mine.key)
    assert got is not None and (got.status, got.last_error) == (OutboxStatus.PENDING, "answered 503")


async def test_a_held_outcome_gives_back_the_attempt_the_claim_counted(engine: AsyncEngine) -> None:
    clock = FakeClock()
    [row] = await claimed(engine, clock, 1)
    batch = outbox_results.results_batch(engine)
    assert await batch.submit(outbox_results.held(row, "silenced by #3"))
    got = await outbox.get(engine, row.key)
    assert got is not None
    assert (got.status, got.attempts, got.last_error) == (OutboxStatus.HELD, 0, "silenced by #3")


async def test_an_outcome_whose_sender_was_cancelled_is_written_all_the_same(engine: AsyncEngine) -> None:
    clock = FakeClock()
    [row] = await claimed(engine, clock, 1)
    batch = outbox_results.results_batch(engine, linger=60.0)  # would wait a minute for company
    sender = asyncio.ensure_future(batch.submit(outbox_results.delivered(row, clock.now())))
    await asyncio.sleep(0.01)
    sender.cancel()
    assert await batch.close(grace=5.0)  # writes at once what waits, without lingering
    got = await outbox.get(engine, row.key)
    assert got is not None and got.status is OutboxStatus.DELIVERED


async def test_a_full_batch_does_not_linger_and_a_batch_must_fit_its_limit(engine: AsyncEngine) -> None:
    clock = FakeClock()
    rows = await claimed(engine, clock, 8)
    batch: WriteBatch[Outcome, bool] = WriteBatch(
        engine, outbox_results.record, name="t", size=8, linger=60.0
    )
    async with asyncio.timeout(5):
        assert await batch.submit_many([outbox_results.delivered(r, clock.now()) for r in rows]) == [True] * 8
    with pytest.raises(ValueError, match="at most its limit"):
        WriteBatch(engine, outbox_results.record, name="t", size=10, limit=5)
    with pytest.raises(ValueError, match="cannot set"):
        outbox_results.statement([Outcome(rows[0], {"payload": {}})])
