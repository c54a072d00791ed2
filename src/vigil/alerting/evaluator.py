"""The rule stage of the flow: evaluate every alert rule on an interval, move its alerts through
their states, and open or resolve one incident per alert group.

Rules run in Vigil's own PromQL evaluator over the series store, or, with ``prometheus: URL``
in the stack file, in that Prometheus. Evaluation yields to the event loop between rules so
that thousands of rules never hold up a probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from vigil.alerting.alerts import Alert, AlertState, RuleAlerts, Transition
from vigil.config.alerts import AlertRule
from vigil.engine.clock import Clock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService

log = logging.getLogger("vigil.rules")
Samples = list[tuple[Mapping[str, str], float]]
Query = Callable[[AlertRule, float], Awaitable[Samples]]
# The open incident of a failing dependency of this service, if any (see CheckFailures.root_incident).
RootIncident = Callable[[str], Awaitable[tuple[str, int] | None]]


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
    ) -> None:
        self.root_incident = root_incident
        # Entered around each cycle's queries (LocalQuery.cycle: shared sub-expressions).
        self.cycle = cycle or nullcontext
        self.symptoms: dict[str, int] = {}  # alert group key → the dependency's incident it joined
        self.rules = [RuleAlerts(rule) for rule in rules]
        self.query = query
        self.incidents = incidents
        self.clock = clock
        self.every = every
        self.stats = EvaluationStats()
        self.errors: dict[str, str] = {}  # rule name → last evaluation error

    async def run(self) -> None:
        while True:
            started = self.clock.monotonic()
            await self.evaluate_once()
            await self.clock.sleep(max(0.0, self.every - (self.clock.monotonic() - started)))

    async def evaluate_once(self) -> list[Transition]:
        now = self.clock.now().timestamp()
        started = self.clock.monotonic()
        transitions: list[Transition] = []
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
                changed = alerts.update(samples, now)
                await self._incidents(alerts, changed)
                transitions += changed
                if i % 200 == 199:
                    await asyncio.sleep(0)
        self.stats.cycles += 1
        self.stats.last_seconds = self.clock.monotonic() - started
        return transitions

    def alerts(self) -> list[Alert]:
        return [alert for rule in self.rules for alert in rule.active.values()]

    async def _incidents(self, alerts: RuleAlerts, changed: list[Transition]) -> None:
        """Open or join one incident per group of alerts that started firing (one transaction
        each), then note or resolve those that stopped."""
        firing: dict[tuple[str, str], list[Alert]] = {}
        for transition in changed:
            if transition.to is AlertState.FIRING:
                alert = transition.alert
                firing.setdefault((alerts.group_key(alert), _service(alert)), []).append(alert)
        for (key, service), group in firing.items():
            await self._firing(alerts, key, service, group)
        for transition in changed:
            if transition.to is not AlertState.FIRING:
                await self._resolved(alerts, transition.alert)

    async def _firing(self, alerts: RuleAlerts, key: str, service: str, group: list[Alert]) -> None:
        rule, alert = alerts.rule, group[0]
        triggers = [_trigger(rule, a) for a in group]
        # A service whose dependency is down: the alert is that outage's symptom, not a page.
        root = await self.root_incident(service) if self.root_incident else None
        if root is not None and key not in self.symptoms:
            self.symptoms[key] = root[1]
            await self.incidents.add_symptom(root[1], f"{triggers[0]}; it depends on {root[0]}")
            return
        if key in self.symptoms:
            return
        summary = alert.annotations.get("summary") or alert.annotations.get("description")
        await self.incidents.open(
            key=key,
            title=summary or rule.name,
            severity=rule.severity,
            service=service,
            check_id=None,
            reason=summary or f"{rule.expr} = {alert.value:g}",
            channels=rule.notify,
            trigger=triggers[0],
            labels=alert.labels,
            also=triggers[1:],
            join=True,
        )

    async def _resolved(self, alerts: RuleAlerts, alert: Alert) -> None:
        rule = alerts.rule
        key = alerts.group_key(alert)
        shown = _shown(alert)
        still_firing = [
            a for a in alerts.active.values() if a.state is AlertState.FIRING and alerts.group_key(a) == key
        ]
        text = f"{rule.name} resolved{f' ({shown})' if shown else ''}"
        if key in self.symptoms:
            if not still_firing:
                await self.incidents.add_symptom(self.symptoms.pop(key), text)
            return
        if still_firing:
            await self.incidents.note_key(key, EventKind.NOTE, text)
        else:
            await self.incidents.recover(key, text)


def _service(alert: Alert) -> str:
    return alert.labels.get("service") or alert.labels.get("job") or "alerts"


def _shown(alert: Alert) -> str:
    return ", ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")
    )


def _trigger(rule: AlertRule, alert: Alert) -> str:
    shown = _shown(alert)
    trigger = f"{rule.name} firing{f' ({shown})' if shown else ''}: value {alert.value:g}"
    return f"{trigger}; runbook: {rule.runbook}" if rule.runbook else trigger
