"""The check stage of the flow: consecutive failures open an incident, a pass resolves it.

The failing checks of one service share one incident (``incidents.check_incidents``): the first
opens it and pages, the others join it, and it resolves when the last of them passes. A check
with ``alert: {group: false}`` has incidents of its own.

The count lives in memory for speed and in ``check_state`` for restarts; it is written only
while a check is failing or when it changes, so a healthy fleet costs no writes. A page goes
out on the failing result itself — nothing waits for a later evaluation tick.

Whether a check has an open incident is asked of the store, never remembered here: an incident
resolved by hand, or by another Vigil instance, while the check still fails must let the next
failure page again.

A failing check whose dependency has not been probed since the failure began is *held*: the
dependency may turn out to be the cause, and then only the cause should page. The hold is a
timer (at most one and a half of the dependency's intervals, ``HOLD_LIMIT`` at most), and it
ends early when the dependency reports — never does it wait for the held check's own next result.
The hold is told on the timeline of the incident the check then opens, joins or is a symptom
on ("waiting up to 45s for postgres.ping"), dated when it began, once per hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.inhibition import DependencyGraph
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock
from vigil.incidents.check_incidents import any_member, join, note_at
from vigil.incidents.model import EventKind, utc
from vigil.incidents.reads import check_incident_key
from vigil.incidents.service import IncidentService
from vigil.probes.base import Result
from vigil.store.tables import CheckStateRow

log = logging.getLogger("vigil.checks")


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
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.specs = {spec.id: spec for spec in specs}
        self.by_service: dict[str, list[str]] = {}
        for spec in specs:
            self.by_service.setdefault(spec.service, []).append(spec.id)
        self.incidents = incidents
        self.clock = clock or incidents.clock
        self.graph = graph or DependencyGraph({})
        self.state: dict[str, CheckState] = {}
        self.symptoms: dict[str, int] = {}  # check id → the root-cause incident it is attached to
        self.held: dict[str, Result] = {}  # check id → its latest failure, waiting to be judged
        # check id → when its hold began and the line telling it, written once the hold ends
        self.waits: dict[str, tuple[datetime, str]] = {}
        self.joined: dict[str, int] = {}  # check id → the shared incident it is noted on (a cache)
        self._timers: dict[str, tuple[float, asyncio.Task[None]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self) -> None:
        """Pick up where the last run stopped: failure counts and since when. A check that was
        failing past its threshold is judged again at once: the last run may have stopped
        between counting the failure and opening its incident, or while it was held."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(CheckStateRow))).all()
        for row in rows:
            state = CheckState(
                row.ok,
                row.consecutive_failures,
                utc(row.changed_at).timestamp(),
                utc(row.checked_at).timestamp(),
            )
            self.state[row.check_id] = state
            spec = self.specs.get(row.check_id)
            policy = spec.config.alert if spec is not None else None
            if not state.ok and policy is not None and state.failures >= policy.after:
                self.held[row.check_id] = Result(row.check_id, False, 0.0, utc(row.checked_at), row.reason)
        for check_id in list(self.held):
            await self._judge(check_id)

    async def close(self) -> None:
        """Stop the hold timers (on shutdown); a held check is judged again on its next result."""
        timers = [task for _, task in self._timers.values()]
        self._timers.clear()
        for task in timers:
            task.cancel()
        for task in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def handle(self, result: Result) -> None:
        spec = self.specs.get(result.check_id)
        if spec is None:
            return
        previous = self.state.get(result.check_id)
        at = result.started_at.timestamp()
        if result.ok:
            since = previous.since if previous is not None and previous.ok else at
            self.state[result.check_id] = CheckState(True, 0, since, at)
            self.held.pop(result.check_id, None)
            self.waits.pop(result.check_id, None)
            self.joined.pop(result.check_id, None)
            self._disarm(result.check_id)
            if previous is not None and not previous.ok:
                await self._save(result, 0, since)
                root_incident = self.symptoms.pop(result.check_id, None)
                if root_incident is not None:
                    await self.incidents.add_symptom(root_incident, f"{result.check_id} passes again")
                await self._passed(spec, joined=root_incident is None and self._reached(spec, previous))
        else:
            failures = (previous.failures if previous and not previous.ok else 0) + 1
            since = previous.since if previous is not None and not previous.ok and previous.since else at
            self.state[result.check_id] = CheckState(False, failures, since, at)
            await self._save(result, failures, since)
            policy = spec.config.alert
            if policy is not None and failures >= policy.after:
                self.held[result.check_id] = result
                await self._judge(result.check_id)
        if self.held:
            # A dependent held for this service's probe is judged now. One that is a symptom
            # of this service may join its incident, but pages only on its own next result:
            # what it saw was measured while this service was down.
            for check_id in [c for c in self.held if spec.service in self._needs(c)]:
                await self._judge(check_id, may_page=check_id in self._timers)

    async def _judge(self, check_id: str, *, may_page: bool = True) -> None:
        """Page for a held failure, attach it to its dependency's incident, or keep holding it."""
        lock = self._locks.setdefault(check_id, asyncio.Lock())
        async with lock:
            result = self.held.get(check_id)
            state = self.state.get(check_id)
            if result is None or state is None or state.ok:
                return
            spec = self.specs[check_id]
            key = check_incident_key(spec)
            incident = await self.incidents.open_with_key(key)
            if incident is not None:
                if self.incidents.flaps is not None:  # failing again: a change if it had passed
                    await self.incidents.flaps.fired(key)
                # Its own incident, or its service's: the outage has paged already; a check of
                # the group that is not on it yet joins it (noted once, no second page).
                self._disarm(check_id)
                del self.held[check_id]
                if incident.check != check_id and self.joined.get(check_id) != incident.id:
                    await join(self.incidents, key, spec, result, state.failures)
                    self.joined[check_id] = incident.id
                await self._tell_wait(check_id, incident.id)
                return
            root = self.graph.root_cause(spec.service, self._service_failing)
            if root is None:
                deadline, waiting_for = self._hold_until(spec.service, state.since)
                now = self.clock.now()
                if deadline is not None and now.timestamp() < deadline:
                    seconds = round(deadline - state.since)
                    awaited = ", ".join(waiting_for)
                    line = f"{check_id} failing; waiting up to {seconds}s for {awaited} before paging"
                    self.waits.setdefault(check_id, (now, line))
                    self._arm(check_id, deadline)
                    return
                if not may_page:
                    return
                self._disarm(check_id)
                del self.held[check_id]
                opened = await self.incidents.open_for_check(spec, result, state.failures)
                incident = opened or await self.incidents.open_with_key(key)  # or joined one
                if incident is not None:
                    self.joined[check_id] = incident.id
                    await self._tell_wait(check_id, incident.id)
                return
            # A dependency is down: this failure is its symptom. Attach it to the dependency's
            # incident once that exists; until then, wait rather than page for the symptom.
            self._disarm(check_id)
            root_incident = await self._open_incident_of(root)
            if root_incident is None or self.symptoms.get(check_id) == root_incident:
                return
            self.symptoms[check_id] = root_incident
            await self._tell_wait(check_id, root_incident)
            await self.incidents.add_symptom(
                root_incident, f"{check_id} fails too ({result.reason}); it depends on {root}"
            )

    async def _tell_wait(self, check_id: str, incident_id: int) -> None:
        """Put a hold that has ended on the incident it ended in, dated when it began."""
        wait = self.waits.pop(check_id, None)
        if wait is not None:
            await note_at(self.incidents, incident_id, wait[1], wait[0])

    async def _passed(self, spec: CheckSpec, *, joined: bool) -> None:
        """A failing check passes: resolve its incident, or, while other checks of its service
        still fail, say so on their shared incident."""
        policy = spec.config.alert
        if policy is None:
            return
        key = check_incident_key(spec)
        if not policy.group:
            if policy.auto_resolve:
                await self.incidents.recover(key, f"{spec.id} passed again")
            return
        grouped = [self.specs[c] for c in self.by_service[spec.service] if self._grouped(self.specs[c])]
        still = await self._still_failing([s for s in grouped if s.id != spec.id])
        if still:
            if joined:
                text = f"{spec.id} passes again; still failing: {', '.join(still)}"
                await self.incidents.note_key(key, EventKind.NOTE, text)
            return
        # A member that asked to be resolved by hand keeps the shared incident open.
        by_hand = [s.id for s in grouped if s.config.alert is not None and not s.config.alert.auto_resolve]
        if not by_hand or not await any_member(self.incidents, key, by_hand):
            await self.incidents.recover(key, f"{spec.id} passed again")

    async def _still_failing(self, specs: list[CheckSpec]) -> list[str]:
        """Those of ``specs`` failing at or past their threshold, as the store has it: another
        instance, or this one before a restart, may have counted them."""
        if not specs:
            return []
        query = select(CheckStateRow.check_id, CheckStateRow.consecutive_failures).where(
            CheckStateRow.check_id.in_([s.id for s in specs]), ~CheckStateRow.ok
        )
        async with self.engine.connect() as conn:
            counts = {check_id: n for check_id, n in (await conn.execute(query)).all()}
        return [
            s.id
            for s in specs
            if s.id in counts and s.config.alert is not None and counts[s.id] >= s.config.alert.after
        ]

    @staticmethod
    def _grouped(spec: CheckSpec) -> bool:
        return spec.config.alert is not None and spec.config.alert.group

    @staticmethod
    def _reached(spec: CheckSpec, state: CheckState | None) -> bool:
        """Whether the check was failing at or past its threshold: on its service's incident."""
        policy = spec.config.alert
        return policy is not None and state is not None and not state.ok and state.failures >= policy.after

    def _needs(self, check_id: str) -> list[str]:
        return self.graph.closure.get(self.specs[check_id].service, [])

    def _hold_until(self, service: str, since: float) -> tuple[float | None, list[str]]:
        """Until when a failure of ``service`` that began at ``since`` waits for a dependency's
        check that has not run since (one and a half of its intervals, at most ``HOLD_LIMIT``),
        and those checks: the first failure seen may be a symptom whose cause is probed a moment
        later. None when every dependency has been probed since."""
        until: float | None = None
        waiting_for: list[str] = []
        for dependency in self.graph.closure.get(service, []):
            for check_id in self.by_service.get(dependency, []):
                spec = self.specs[check_id]
                state = self.state.get(check_id)
                if spec.config.alert is None or (state is not None and state.checked >= since):
                    continue
                # One and a half intervals: a probe due just as this threshold is reached still counts.
                end = since + min(1.5 * spec.config.every, HOLD_LIMIT)
                until = end if until is None else max(until, end)
                waiting_for.append(check_id)
        return until, waiting_for

    def _arm(self, check_id: str, deadline: float) -> None:
        armed = self._timers.get(check_id)
        if armed is not None and armed[0] == deadline and not armed[1].done():
            return
        if armed is not None:
            armed[1].cancel()
        task = asyncio.create_task(self._hold_over(check_id, deadline), name=f"vigil-hold-{check_id}")
        self._timers[check_id] = (deadline, task)

    def _disarm(self, check_id: str) -> None:
        armed = self._timers.pop(check_id, None)
        if armed is not None and armed[1] is not asyncio.current_task():
            armed[1].cancel()

    async def _hold_over(self, check_id: str, deadline: float) -> None:
        await self.clock.sleep(max(0.0, deadline - self.clock.now().timestamp()))
        try:
            await self._judge(check_id)
        except Exception:
            # Kept held: the check's next result judges it again.
            log.exception("judging held failure of %s failed", check_id)
        finally:
            if (current := self._timers.get(check_id)) is not None and current[0] == deadline:
                del self._timers[check_id]

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
            state = self.state.get(check_id)
            if state is not None and not state.ok:
                incident = await self.incidents.open_with_key(check_incident_key(self.specs[check_id]))
                if incident is not None:
                    return incident.id
        return None

    async def _save(self, result: Result, failures: int, since: float) -> None:
        values = {
            "check_id": result.check_id,
            "ok": result.ok,
            "consecutive_failures": failures,
            "reason": result.reason,
            "changed_at": datetime.fromtimestamp(since, UTC),
            "checked_at": utc(result.started_at),
        }
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(CheckStateRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[CheckStateRow.check_id],
            set_={k: v for k, v in values.items() if k != "check_id"},
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
