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

from vigil.alerting.inhibition import DependencyGraph
from vigil.config.stack import CheckSpec
from vigil.incidents.model import utc
from vigil.incidents.service import IncidentService
from vigil.probes.base import Result
from vigil.store.tables import CheckStateRow


@dataclass
class CheckState:
    ok: bool
    failures: int = 0
    since: float = 0.0  # when the current run of passes or failures began (Unix seconds)
    checked: float = 0.0  # when the last result came


# How long a dependent's page may wait for its dependencies to be probed once more, at most.
HOLD_LIMIT = 60.0


class CheckFailures:
    def __init__(
        self,
        engine: AsyncEngine,
        specs: list[CheckSpec],
        incidents: IncidentService,
        graph: DependencyGraph | None = None,
    ) -> None:
        self.engine = engine
        self.specs = {spec.id: spec for spec in specs}
        self.by_service: dict[str, list[str]] = {}
        for spec in specs:
            self.by_service.setdefault(spec.service, []).append(spec.id)
        self.incidents = incidents
        self.graph = graph or DependencyGraph({})
        self.state: dict[str, CheckState] = {}
        self.open: set[str] = set()
        self.symptoms: dict[str, int] = {}  # check id → the root-cause incident it is attached to

    async def load(self) -> None:
        """Pick up where the last run stopped: failure counts and which checks have an open incident."""
        async with self.engine.connect() as conn:
            for row in (await conn.execute(select(CheckStateRow))).all():
                self.state[row.check_id] = CheckState(
                    row.ok,
                    row.consecutive_failures,
                    utc(row.changed_at).timestamp(),
                    utc(row.checked_at).timestamp(),
                )
        self.open = set(await self.incidents.open_by_check())

    async def handle(self, result: Result) -> None:
        spec = self.specs.get(result.check_id)
        if spec is None:
            return
        previous = self.state.get(result.check_id)
        if result.ok:
            at = result.started_at.timestamp()
            since = previous.since if previous is not None and previous.ok else at
            self.state[result.check_id] = CheckState(True, 0, since, at)
            if previous is not None and not previous.ok:
                await self._save(result, 0)
            root_incident = self.symptoms.pop(result.check_id, None)
            if root_incident is not None:
                await self.incidents.add_symptom(root_incident, f"{result.check_id} passes again")
            if result.check_id in self.open and spec.config.alert and spec.config.alert.auto_resolve:
                await self.incidents.recover_check(result.check_id, result)
                self.open.discard(result.check_id)
            return
        failures = (previous.failures if previous and not previous.ok else 0) + 1
        at = result.started_at.timestamp()
        since = previous.since if previous is not None and not previous.ok and previous.since else at
        self.state[result.check_id] = CheckState(False, failures, since, at)
        await self._save(result, failures)
        policy = spec.config.alert
        if policy is None or failures < policy.after or result.check_id in self.open:
            return
        root = self.graph.root_cause(spec.service, self._service_failing)
        if root is None and self._awaiting_dependencies(spec.service, since, at):
            return  # a dependency not yet probed since this began may turn out to be the cause
        if root is None:
            await self.incidents.open_for_check(spec, result, failures)
            self.open.add(result.check_id)
            return
        # A dependency is down: this failure is its symptom. Attach it to the dependency's
        # incident once that exists; until then, wait rather than page for the symptom.
        if result.check_id in self.symptoms:
            return
        root_incident = await self._open_incident_of(root)
        if root_incident is not None:
            self.symptoms[result.check_id] = root_incident
            await self.incidents.add_symptom(
                root_incident, f"{result.check_id} fails too ({result.reason}); it depends on {root}"
            )

    def _awaiting_dependencies(self, service: str, since: float, now: float) -> bool:
        """True while some dependency's check has not run since this failure began, for at most its
        interval and a half (capped at ``HOLD_LIMIT``): the first failure seen may be a symptom whose cause
        is probed a moment later, and then only the cause should page."""
        for dependency in self.graph.closure.get(service, []):
            for check_id in self.by_service.get(dependency, []):
                spec = self.specs[check_id]
                state = self.state.get(check_id)
                if spec.config.alert is None or (state is not None and state.checked >= since):
                    continue
                # One and a half intervals: a probe due just as this threshold is reached still counts.
                if now - since < min(1.5 * spec.config.every, HOLD_LIMIT):
                    return True
        return False

    def _service_failing(self, service: str) -> bool:
        # Only checks that can open an incident count: a dependency that never pages must not
        # silence the services that need it.
        return any(
            not state.ok and self.specs[cid].config.alert is not None
            for cid in self.by_service.get(service, [])
            if (state := self.state.get(cid))
        )

    async def root_incident(self, service: str) -> tuple[str, int] | None:
        """The failing dependency of ``service`` and its open incident, when there is one."""
        root = self.graph.root_cause(service, self._service_failing)
        if root is None:
            return None
        incident = await self._open_incident_of(root)
        return (root, incident) if incident is not None else None

    async def _open_incident_of(self, service: str) -> int | None:
        for check_id in self.by_service.get(service, []):
            if check_id in self.open:
                incident = await self.incidents.open_for(check_id)
                if incident is not None:
                    return incident.id
        return None

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
