"""The rule stage of the flow: evaluate every alert rule on an interval, move its alerts through
their states, and open or resolve one incident per alert group.

A group's incident is paged by the alerts that are not symptoms of a failing dependency (see
``alerting/symptoms.py``), and resolves when none of those fires any more. Its key is stored, so
after a restart the first evaluation settles the incidents an earlier run left open.

Rules run in Vigil's own PromQL evaluator over the series store, or, with ``prometheus: URL``
in the stack file, in that Prometheus. Evaluation yields to the event loop between rules so
that thousands of rules never hold up a probe.

An alert storm opens hundreds of incidents in one cycle: the groups that start paging are
gathered across rules and opened a few hundred to a transaction (``IncidentService.open_many``),
before anything else touches their keys and before the cycle ends.

With ``states`` (``alerting/alert_states.py``), pending and firing alerts are kept in the store
and put back before the first evaluation after a start: a restart neither resets a ``for`` nor
pages a firing alert again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.alerting.alert_states import AlertStates, Change, Key
from vigil.alerting.alerts import Alert, AlertState, RuleAlerts, Transition, ended, service_of, trigger
from vigil.alerting.symptoms import RootIncident, Symptoms
from vigil.config.alerts import AlertRule
from vigil.engine.clock import Clock
from vigil.incidents.model import EventKind
from vigil.incidents.opening import CHUNK, OpenRequest
from vigil.incidents.recovery import recover_many
from vigil.incidents.service import IncidentService

log = logging.getLogger("vigil.rules")
Samples = list[tuple[Mapping[str, str], float]]
Query = Callable[[AlertRule, float], Awaitable[Samples]]


@dataclass
class EvaluationStats:
    cycles: int = 0
    failures: int = 0
    last_seconds: float = 0.0


class RuleEvaluator:
    def __init__(
        self,
        rules: list[AlertRule],
        query: Query,
        incidents: IncidentService,
        clock: Clock,
        *,
        every: float,
        root_incident: RootIncident | None = None,
        cycle: Callable[[], AbstractContextManager[None]] | None = None,
        states: AlertStates | None = None,
    ) -> None:
        # Entered around each cycle's queries (LocalQuery.cycle: shared sub-expressions).
        self.cycle = cycle or nullcontext
        self.symptoms = Symptoms(incidents, root_incident)
        # Keys of open rule incidents from before this start, until their groups are accounted
        # for; None until the first evaluation has run.
        self.leftover: set[str] | None = None
        level = incidents.stack.level
        self.rules = [
            RuleAlerts(rule, level(rule.severity or rule.labels.get("severity")).name) for rule in rules
        ]
        self.query = query
        self.incidents = incidents
        self.clock = clock
        self.every = every
        self.stats = EvaluationStats()
        self.errors: dict[str, str] = {}  # rule name → last evaluation error
        self._opening: list[OpenRequest] = []  # groups that started paging, not yet opened
        self.states = states
        self._restored = states is None
        self._paging: dict[int, list[Alert]] = {}  # id of an OpenRequest in _opening → its alerts
        self._paged: set[Key] = set()  # alerts that started paging this cycle: see _opened
        self._unwritten: dict[Key, Change] = {}  # alerts' changes not yet in the store
        self._now = 0.0

    async def run(self) -> None:
        while True:
            started = self.clock.monotonic()
            await self.evaluate_once()
            await self.clock.sleep(max(0.0, self.every - (self.clock.monotonic() - started)))

    async def evaluate_once(self) -> list[Transition]:
        if not self._restored and self.states is not None:
            await self.states.restore(self.rules)
            self._restored = True
        now = self._now = self.clock.now().timestamp()
        started = self.clock.monotonic()
        transitions: list[Transition] = []
        self._paged.clear()
        self.symptoms.new_cycle()
        with self.cycle():
            for i, alerts in enumerate(self.rules):
                try:
                    samples = await self.query(alerts.rule, now)
                except Exception as err:  # one broken rule must not stop the others
                    self.stats.failures += 1
                    self.errors[alerts.rule.name] = (
                        str(err).splitlines()[0] if str(err) else type(err).__name__
                    )
                    continue
                self.errors.pop(alerts.rule.name, None)
                before = {k: a.state for k, a in alerts.active.items()} if self.states else {}
                changed = alerts.update(samples, now)
                await self._incidents(alerts, changed)
                if self.states is not None:
                    self._changes(alerts, before)
                transitions += changed
                if i % 200 == 199:
                    await asyncio.sleep(0)
        await self._flush()
        await self.symptoms.flush()
        await self._settle_leftovers()
        await self._record(now)
        self.stats.cycles += 1
        self.stats.last_seconds = self.clock.monotonic() - started
        return transitions

    def alerts(self) -> list[Alert]:
        return [alert for rule in self.rules for alert in rule.active.values()]

    async def _incidents(self, alerts: RuleAlerts, changed: list[Transition]) -> None:
        """Open or join one incident per group of alerts that started paging (gathered for
        ``_flush``), then note or resolve those that stopped."""
        rule = alerts.rule
        paging: dict[tuple[str, str], list[tuple[Alert, str]]] = {}  # (group key, service) → alerts
        for transition in changed:
            alert = transition.alert
            if transition.to is AlertState.FIRING and not await self.symptoms.hold(rule, alert):
                paging.setdefault((alerts.group_key(alert), service_of(alert)), []).append(
                    (alert, trigger(rule, alert))
                )
        for alert, root in await self.symptoms.released(alerts):
            text = f"{trigger(rule, alert)}; held as a symptom of {root} until {root} recovered"
            paging.setdefault((alerts.group_key(alert), service_of(alert)), []).append((alert, text))
        for (key, service), group in paging.items():
            await self._open(alerts, key, service, group)
        paged: dict[str, list[Alert]] | None = None  # see _paging_groups, once there is a use
        for transition in changed:
            alert = transition.alert
            if transition.to is AlertState.FIRING or await self.symptoms.resolved(rule, alert):
                continue
            if paged is None:
                paged = self._paging_groups(alerts)
            key = alerts.group_key(alert)
            if any(r.key == key for r in self._opening):
                await self._flush()  # its incident opens first, as the lines below expect
            if any(a.state is AlertState.FIRING for a in paged.get(key, [])):
                await self.incidents.note_key(key, EventKind.NOTE, ended(alert))
            else:
                await recover_many(self.incidents, [(key, ended(alert))], within=self._forget(alert))

    async def _open(self, alerts: RuleAlerts, key: str, service: str, group: list[tuple[Alert, str]]) -> None:
        rule = alerts.rule
        alert, triggers = group[0][0], [text for _, text in group]
        request = OpenRequest(
            key=key,
            title=summary_of(alert) or rule.name,
            severity=alerts.severity,
            service=service,
            check_id=None,
            reason=summary_of(alert) or f"{rule.expr} = {alert.value:g}",
            channels=rule.notify,
            trigger=triggers[0],
            labels=alert.labels,
            also=triggers[1:],
            join=True,
        )
        self._opening.append(request)
        self._paging[id(request)] = [a for a, _ in group]
        self._paged.update((a.rule, a.fingerprint) for a, _ in group)
        if len(self._opening) >= CHUNK:
            await self._flush()

    async def _flush(self) -> None:
        """Open the gathered groups' incidents, a chunk to a transaction. A chunk leaves the
        queue only once committed: after a failure the rest opens at the next cycle."""
        within = self._opened if self.states is not None else None
        while self._opening:
            await self.incidents.open_many(self._opening[:CHUNK], within=within)
            for request in self._opening[:CHUNK]:
                self._paging.pop(id(request), None)
            del self._opening[:CHUNK]

    def _forget(self, alert: Alert) -> Callable[[AsyncConnection], Awaitable[None]] | None:
        """Drops the row of an alert that stopped firing, with its incident's resolving."""
        states = self.states
        if states is None:
            return None
        return lambda conn: states.forget_within(conn, [(alert.rule, alert.fingerprint)])

    async def _opened(self, conn: AsyncConnection, opened: Sequence[tuple[OpenRequest, int]]) -> None:
        """The rows of alerts that started paging, written with their incident's opening."""
        states = self.states
        if states is None:
            return
        rows: list[dict[str, Any]] = []
        for request, incident_id in opened:
            for alert in self._paging.get(id(request), []):
                rows.append(states.row(alert, self._now, incident_id))
                self._unwritten.pop((alert.rule, alert.fingerprint), None)  # this row is newer
        await states.write_within(conn, rows)

    def _changes(self, alerts: RuleAlerts, before: dict[str, AlertState]) -> None:
        """Note the alerts of ``alerts`` that appeared, changed state or went away this cycle;
        one that started paging is written with its incident instead (``_opened``)."""
        states = self.states
        if states is None:
            return
        name = alerts.rule.name
        for fingerprint, alert in alerts.active.items():
            if before.get(fingerprint) is alert.state:
                continue
            if alert.state is AlertState.FIRING and (name, fingerprint) in self._paged:
                continue
            self._unwritten[(name, fingerprint)] = Change((name, fingerprint), states.row(alert, self._now))
        for fingerprint in before.keys() - alerts.active.keys():
            self._unwritten[(name, fingerprint)] = Change((name, fingerprint), None)

    async def _record(self, now: float) -> None:
        """Write this cycle's changes and the time every active alert was last evaluated."""
        if self.states is None:
            return
        if not self._unwritten and not any(alerts.active for alerts in self.rules):
            return  # no row to write or to mark seen: no commit every cycle of a quiet stack
        changes = [*self._unwritten.values(), Change(seen=datetime.fromtimestamp(now, UTC))]
        await self.states.record(changes)
        for change in changes:
            if change.key is not None and self._unwritten.get(change.key) is change:
                del self._unwritten[change.key]

    async def _settle_leftovers(self) -> None:
        """Resolve the rule incidents an earlier run left open whose groups no longer page: their
        alerts cleared while Vigil was down, or their rule left the stack file. A group with
        pending alerts, or whose rule could not be evaluated, is looked at again next time."""
        if self.leftover is None:
            self.leftover = set(await self.incidents.open_keys("alert:"))
        if not self.leftover:
            return
        by_name = {alerts.rule.name: alerts for alerts in self.rules}
        groups: dict[str, dict[str, list[Alert]]] = {}  # rule name → its _paging_groups
        for key in sorted(self.leftover):
            name = key.split(":")[1]
            alerts = by_name.get(name)
            if alerts is None:
                await self.incidents.recover(key, f"{name} is no longer a rule after Vigil restarted")
                self.leftover.discard(key)
                continue
            if name in self.errors:
                continue
            if name not in groups:
                groups[name] = self._paging_groups(alerts)
            members = groups[name].get(key, [])
            if not members:
                await self.incidents.recover(key, f"{name} no longer firing after Vigil restarted")
            elif all(a.state is AlertState.PENDING for a in members):
                continue  # may fire yet, or vanish: looked at again next time
            self.leftover.discard(key)  # resolved, or its firing alerts joined it: as any other

    def _paging_groups(self, alerts: RuleAlerts) -> dict[str, list[Alert]]:
        """The active alerts of each group that are no symptom: pending, or firing on their own."""
        groups: dict[str, list[Alert]] = {}
        for fingerprint, alert in alerts.active.items():
            if not self.symptoms.is_held(alerts.rule.name, fingerprint):
                groups.setdefault(alerts.group_key(alert), []).append(alert)
        return groups


def summary_of(alert: Alert) -> str | None:
    return alert.annotations.get("summary") or alert.annotations.get("description")
