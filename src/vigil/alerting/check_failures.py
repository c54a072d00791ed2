"""The check stage of the flow: consecutive failures open an incident, a pass resolves it.

The count lives in memory for speed and in ``check_state`` for restarts; it is written only
while a check is failing or when it changes, so a healthy fleet costs no writes. A page goes
out on the failing result itself — nothing waits for a later evaluation tick.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.stack import CheckSpec
from vigil.incidents.model import utc
from vigil.incidents.service import IncidentService
from vigil.probes.base import Result
from vigil.store.tables import CheckStateRow


@dataclass
class CheckState:
    ok: bool
    failures: int = 0


class CheckFailures:
    def __init__(self, engine: AsyncEngine, specs: list[CheckSpec], incidents: IncidentService) -> None:
        self.engine = engine
        self.specs = {spec.id: spec for spec in specs}
        self.incidents = incidents
        self.state: dict[str, CheckState] = {}
        self.open: set[str] = set()

    async def load(self) -> None:
        """Pick up where the last run stopped: failure counts and which checks have an open incident."""
        async with self.engine.connect() as conn:
            for row in (await conn.execute(select(CheckStateRow))).all():
                self.state[row.check_id] = CheckState(row.ok, row.consecutive_failures)
        self.open = set(await self.incidents.open_by_check())

    async def handle(self, result: Result) -> None:
        spec = self.specs.get(result.check_id)
        if spec is None:
            return
        previous = self.state.get(result.check_id)
        if result.ok:
            self.state[result.check_id] = CheckState(True, 0)
            if previous is not None and not previous.ok:
                await self._save(result, 0)
            if result.check_id in self.open and spec.config.alert and spec.config.alert.auto_resolve:
                await self.incidents.recover_check(result.check_id, result)
                self.open.discard(result.check_id)
            return
        failures = (previous.failures if previous and not previous.ok else 0) + 1
        self.state[result.check_id] = CheckState(False, failures)
        await self._save(result, failures)
        policy = spec.config.alert
        if policy is not None and failures >= policy.after and result.check_id not in self.open:
            await self.incidents.open_for_check(spec, result, failures)
            self.open.add(result.check_id)

    async def _save(self, result: Result, failures: int) -> None:
        values = {
            "check_id": result.check_id,
            "ok": result.ok,
            "consecutive_failures": failures,
            "reason": result.reason,
            "changed_at": utc(result.started_at),
            "checked_at": utc(result.started_at),
        }
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(CheckStateRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[CheckStateRow.check_id],
            set_={k: v for k, v in values.items() if k not in ("check_id", "changed_at")},
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
