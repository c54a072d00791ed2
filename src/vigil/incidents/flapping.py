"""Flapping: an alert that fires and resolves again and again pages once, not at every turn.

Every change of an incident key between failing and passing (an alert firing or resolving, a
check failing past its threshold or passing) is counted in ``flap_states``. When ``changes`` of
them fall within ``within`` (``flapping:`` in the stack file), the key is flapping: its
incident is kept open through its passes, its trigger is held (``hold``, judged by the outbox
worker like quiet), and the timeline says so ("flapping: 5 changes in 10m; paging held until
stable for 5m"). Once the key has not changed for ``stable`` (``settle``), it is flapping no
more: still failing, its held trigger goes out — one page; passing, its incident resolves and
whoever got its trigger gets the resolved notice.

The state is in the store, so a restart or another Vigil instance sees the same; the changes
kept per key are bounded by ``changes``. Without ``flapping:`` nothing here runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.config.incident_response import FlapSettings
from vigil.incidents.model import EventKind, span, utc
from vigil.incidents.reads import OPEN
from vigil.store.outbox import OutboxEntry
from vigil.store.tables import FlapStateRow, IncidentEventRow, IncidentRow

if TYPE_CHECKING:
    from vigil.incidents.service import IncidentService

KEPT = 999  # changes kept per key, at most (with the new one, the count shown stops at 1,000)


class FlapGuard:
    def __init__(self, incidents: IncidentService, settings: FlapSettings) -> None:
        self.incidents = incidents
        self.settings = settings
        self.began = (
            f"flapping: {settings.changes} changes in {span(settings.within)}; "
            f"paging held until stable for {span(settings.stable)}"
        )
        self.reason = f"flapping: paging held until stable for {span(settings.stable)}"
        self._failing: dict[
            str, bool
        ] = {}  # the last known state of keys, to skip writes that change nothing

    async def changed(
        self, conn: AsyncConnection, keys: Sequence[str], failing: bool, now: datetime
    ) -> tuple[set[str], dict[str, str]]:
        """Count a change to ``failing`` for each of ``keys`` (no change when it was so already),
        in the caller's transaction. Returns the keys flapping now, and a timeline line for each
        whose change began or continued its flapping."""
        unique = sorted(set(keys))
        rows = {
            r.key: r
            for r in (await conn.execute(select(FlapStateRow).where(FlapStateRow.key.in_(unique)))).all()
        }
        flapping: set[str] = set()
        lines: dict[str, str] = {}
        fresh: list[dict[str, Any]] = []
        cutoff = now.timestamp() - self.settings.within
        for key in unique:
            row = rows.get(key)
            if row is not None and row.failing == failing:
                if row.flapping_since is not None:
                    flapping.add(key)
                continue
            changes = [t for t in (row.changes if row is not None else []) if t > cutoff][-KEPT:]
            changes.append(now.timestamp())
            since = row.flapping_since if row is not None else None
            if since is None and len(changes) >= self.settings.changes:
                since = now
                lines[key] = self.began
            elif since is not None:
                turn = "fails" if failing else "passes"
                lines[key] = (
                    f"{turn} again while flapping ({len(changes)} changes in {span(self.settings.within)})"
                )
            if since is not None:
                flapping.add(key)
            fresh.append(
                {
                    "key": key,
                    "failing": failing,
                    "changes": changes,
                    "flapping_since": since,
                    "changed_at": now,
                }
            )
            self._failing[key] = failing
        if fresh:
            await conn.execute(delete(FlapStateRow).where(FlapStateRow.key.in_([f["key"] for f in fresh])))
            await conn.execute(insert(FlapStateRow), fresh)
        return flapping, lines

    async def fired(self, key: str) -> None:
        """A failure of ``key`` while its incident is open (a check failing again): a change when
        it was passing; noted on the incident when it is flapping."""
        if self._failing.get(key) is True:
            return
        incidents = self.incidents
        now = incidents.clock.now()
        async with incidents.engine.begin() as conn:
            _, lines = await self.changed(conn, [key], True, now)
            await self.note(conn, lines, now)

    async def note(self, conn: AsyncConnection, lines: dict[str, str], now: datetime) -> None:
        """Put each key's line on its open incident's timeline."""
        if not lines:
            return
        found = await conn.execute(
            select(IncidentRow.key, IncidentRow.id).where(
                IncidentRow.key.in_(sorted(lines)), IncidentRow.status.in_([str(s) for s in OPEN])
            )
        )
        rows = [self.incidents.event_row(i, EventKind.FLAPPING, lines[key], now) for key, i in found.all()]
        if rows:
            await conn.execute(insert(IncidentEventRow), rows)

    async def hold(self, entry: OutboxEntry) -> str | None:
        """Why a trigger must wait: its incident's key is flapping; None otherwise."""
        if entry.incident_id is None:
            return None
        query = (
            select(FlapStateRow.flapping_since)
            .join(IncidentRow, IncidentRow.key == FlapStateRow.key)
            .where(IncidentRow.id == entry.incident_id)
        )
        async with self.incidents.engine.connect() as conn:
            since = (await conn.execute(query)).scalar_one_or_none()
        return self.reason if since is not None else None

    async def settle(self) -> int:
        """End the flapping of keys that have not changed for ``stable``: page the failing ones
        (their held trigger is released), resolve the passing ones. Returns how many settled."""
        incidents = self.incidents
        now = incidents.clock.now()
        quiet_since = now - timedelta(seconds=self.settings.stable)
        async with incidents.engine.begin() as conn:
            settled = (
                await conn.execute(
                    update(FlapStateRow)
                    .where(FlapStateRow.flapping_since.is_not(None), FlapStateRow.changed_at <= quiet_since)
                    .values(flapping_since=None, changes=[])
                    .returning(FlapStateRow.key, FlapStateRow.failing, FlapStateRow.changed_at)
                )
            ).all()
            still = {
                key: f"flapping ended: failing for {span((now - utc(at)).total_seconds())}; paging"
                for key, failing, at in settled
                if failing
            }
            await self.note(conn, still, now)
        passing = [
            (key, f"flapping ended: passing for {span((now - utc(at)).total_seconds())}")
            for key, failing, at in settled
            if not failing
        ]
        if passing:
            await incidents.recover_many(passing)
        if still:
            incidents.on_enqueued()  # the worker looks at held pages again
        return len(settled)

    async def run(self) -> None:
        """Settle every few seconds until cancelled (under the runtime's supervisor)."""
        every = min(15.0, max(1.0, self.settings.stable / 10))
        while True:
            await self.settle()
            await self.incidents.clock.sleep(every)
