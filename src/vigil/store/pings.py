"""Heartbeat checks in the store: their ping keys, their last state, and the pings received.

Keys are made here, once per check, when a check is first seen (by ``vigil up`` or by
``vigil heartbeat url``), and kept: a crontab's URL stays valid across restarts. Two instances
seeing a new check at once both try to insert its row; the first wins and both read it back.

Pings reach the store in batches (``PingWriter``): a job pinging ten times a second says
nothing new with each success, so within a batch only a check's last success is kept, besides
every start, failure and log. Each check keeps its last ``KEEP`` pings, and none older than the
store's retention.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.probes.heartbeat import Beat, HeartbeatTimes, Signal
from vigil.store.results import BatchWriter
from vigil.store.tables import HeartbeatRow, PingRow

KEEP = 100  # pings per check
_CHUNK = 500  # check ids per IN (…)
_SLICE = 250  # rows per statement of a batch


@dataclass(frozen=True)
class Ping:
    check_id: str
    signal: Signal
    at: datetime
    exit_status: int | None = None
    body: str | None = None  # the start of what was posted, redacted
    remote: str | None = None


@dataclass(frozen=True)
class HeartbeatRecord:
    """A check's row: its stored key (None when the stack file gives one) and last state."""

    check_id: str
    key: str | None
    created_at: datetime
    last_success_at: datetime | None
    run_started_at: datetime | None
    failed_at: datetime | None
    failure: str | None
    run_seconds: float | None


def beat_of(record: HeartbeatRecord, key: str, times: HeartbeatTimes, since: datetime) -> Beat:
    """The beat ``record`` keeps, counting from ``since``."""
    beat = Beat(record.check_id, key, times, since, record.last_success_at)
    beat.run_started, beat.failed_at = record.run_started_at, record.failed_at
    beat.failure, beat.run_seconds = record.failure, record.run_seconds
    return beat


def new_key() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


async def heartbeat_records(
    engine: AsyncEngine, wanted: Mapping[str, bool], now: datetime
) -> dict[str, HeartbeatRecord]:
    """Each check's record, made where missing: ``wanted`` maps a check id to whether it needs a
    key of Vigil's making (its stack file gives none)."""
    found = await stored_records(engine, wanted)
    missing = [
        {"check_id": check_id, "key": new_key() if needs else None, "created_at": now}
        for check_id, needs in wanted.items()
        if check_id not in found
    ]
    keyless = [
        check_id
        for check_id, needs in wanted.items()
        if needs and check_id in found and not found[check_id].key
    ]
    if missing or keyless:
        async with engine.begin() as conn:
            if missing:
                dialect = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
                await conn.execute(dialect(HeartbeatRow).on_conflict_do_nothing(), missing)
            for check_id in keyless:  # its key was in the stack file, and is no longer
                await conn.execute(
                    update(HeartbeatRow)
                    .where(HeartbeatRow.check_id == check_id, HeartbeatRow.key.is_(None))
                    .values(key=new_key())
                )
        found = await stored_records(engine, wanted)
    return found


async def stored_records(engine: AsyncEngine, check_ids: Iterable[str]) -> dict[str, HeartbeatRecord]:
    ids = list(check_ids)
    found: dict[str, HeartbeatRecord] = {}
    async with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            query = select(HeartbeatRow).where(HeartbeatRow.check_id.in_(ids[start : start + _CHUNK]))
            for row in (await conn.execute(query)).all():
                found[row.check_id] = HeartbeatRecord(
                    row.check_id,
                    row.key,
                    row.created_at,
                    row.last_success_at,
                    row.run_started_at,
                    row.failed_at,
                    row.failure,
                    row.run_seconds,
                )
    return found


class PingStore:
    """Writes pings and the state of the beats they changed; ``beats`` is the watch's, by check id."""

    def __init__(self, engine: AsyncEngine, beats: Mapping[str, Beat]) -> None:
        self.engine = engine
        self.beats = beats

    async def add_many(self, items: Sequence[Ping]) -> None:
        if not items:
            return
        last_success: dict[str, int] = {}
        for i, ping in enumerate(items):
            if ping.signal is Signal.SUCCESS:
                last_success[ping.check_id] = i
        rows = [
            {
                "check_id": p.check_id,
                "signal": str(p.signal),
                "exit_status": p.exit_status,
                "at": p.at,
                "body": p.body,
                "remote": p.remote,
            }
            for i, p in enumerate(items)
            if p.signal is not Signal.SUCCESS or last_success[p.check_id] == i
        ]
        states = [
            _state(beat) for check_id in {p.check_id for p in items} if (beat := self.beats.get(check_id))
        ]
        async with self.engine.begin() as conn:
            # In slices: the event loop prepares each slice's parameters, and answers pings
            # between slices instead of pausing for a whole batch (tens of milliseconds).
            for start in range(0, len(rows), _SLICE):
                await conn.execute(insert(PingRow), rows[start : start + _SLICE])
            for start in range(0, len(states), _SLICE):
                await conn.execute(_UPDATE_STATE, states[start : start + _SLICE])

    async def prune(self, before: datetime) -> int:
        """Pings older than ``before`` go, and all but each check's newest ``KEEP``."""
        ranked = select(
            PingRow.id,
            func.row_number().over(partition_by=PingRow.check_id, order_by=PingRow.id.desc()).label("n"),
        ).subquery()
        async with self.engine.begin() as conn:
            old = await conn.execute(delete(PingRow).where(PingRow.at < before))
            excess = await conn.execute(
                delete(PingRow).where(PingRow.id.in_(select(ranked.c.id).where(ranked.c.n > KEEP)))
            )
        return int(old.rowcount or 0) + int(excess.rowcount or 0)


_UPDATE_STATE = (
    update(HeartbeatRow)
    .where(HeartbeatRow.check_id == bindparam("id"))
    .values(
        last_success_at=bindparam("last_success"),
        run_started_at=bindparam("run_started"),
        failed_at=bindparam("failed"),
        failure=bindparam("failure_text"),
        run_seconds=bindparam("run"),
    )
)


def _state(beat: Beat) -> dict[str, Any]:
    return {
        "id": beat.check_id,
        "last_success": beat.last_success,
        "run_started": beat.run_started,
        "failed": beat.failed_at,
        "failure_text": beat.failure,
        "run": beat.run_seconds,
    }


class PingWriter(BatchWriter[Ping]):
    """Pings, written in batches (``BatchWriter``)."""

    what = "pings"
    dropped_note = ""
