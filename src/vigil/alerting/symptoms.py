"""Rule alerts held as symptoms of a failing dependency.

Each alert is judged from its own service: while a service it depends on is down with an open
incident, the alert pages no one, and is noted once on that incident's timeline instead. It is
judged again at each evaluation, so one that still fires after its dependency recovers pages
then. Alerts of other services in the same group are not affected.

The lines are gathered and written a few hundred to a transaction (``flush``, which the
evaluator calls by the end of each evaluation): in a storm behind a failed dependency every
alert is a symptom.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from vigil.alerting.alerts import Alert, RuleAlerts, ended, service_of, trigger
from vigil.config.alerts import AlertRule
from vigil.incidents.opening import CHUNK
from vigil.incidents.service import IncidentService

# The open incident of a failing dependency of this service, if any (see CheckFailures.root_incident).
RootIncident = Callable[[str], Awaitable[tuple[str, int] | None]]


@dataclass(frozen=True)
class Held:
    root: str  # the failing dependency
    incident_id: int  # its incident, on whose timeline the alert is noted


class Symptoms:
    def __init__(self, incidents: IncidentService, root_incident: RootIncident | None) -> None:
        self.incidents = incidents
        self.root_incident = root_incident
        self.held: dict[str, dict[str, Held]] = {}  # rule name → alert fingerprint → its root
        # One answer per service and evaluation: an alert storm costs a look-up per service.
        self._roots: dict[str, tuple[str, int] | None] = {}
        self._lines: list[tuple[int, str]] = []  # (incident id, text) not yet written

    async def flush(self) -> None:
        """Write the gathered lines; a chunk leaves the queue only once committed."""
        while self._lines:
            await self.incidents.add_symptoms(self._lines[:CHUNK])
            del self._lines[:CHUNK]

    async def _add(self, incident_id: int, text: str) -> None:
        self._lines.append((incident_id, text))
        if len(self._lines) >= CHUNK:
            await self.flush()

    def new_cycle(self) -> None:
        self._roots.clear()

    def is_held(self, rule: str, fingerprint: str) -> bool:
        return fingerprint in self.held.get(rule, {})

    async def hold(self, rule: AlertRule, alert: Alert) -> bool:
        """Hold an alert that started firing if its service's dependency is down; False to page."""
        root = await self._root(service_of(alert))
        if root is None:
            return False
        await self._note(rule, alert, root)
        return True

    async def released(self, alerts: RuleAlerts) -> list[tuple[Alert, str]]:
        """The held alerts of this rule whose dependency has no open incident any more, each
        with that dependency: they fire on their own account now, and page."""
        held = self.held.get(alerts.rule.name, {})
        released: list[tuple[Alert, str]] = []
        for fingerprint, was in list(held.items()):
            alert = alerts.active.get(fingerprint)
            if alert is None:  # resolved at this evaluation: ``resolved`` notes it
                continue
            root = await self._root(service_of(alert))
            if root is None:
                del held[fingerprint]
                released.append((alert, was.root))
            elif root[1] != was.incident_id:  # a new outage: its responders see this alert too
                await self._note(alerts.rule, alert, root)
        return released

    async def resolved(self, rule: AlertRule, alert: Alert) -> bool:
        """Note the end of a held alert on its root's incident; False when it was not held."""
        was = self.held.get(rule.name, {}).pop(alert.fingerprint, None)
        if was is None:
            return False
        await self._add(was.incident_id, ended(alert))
        return True

    async def _note(self, rule: AlertRule, alert: Alert, root: tuple[str, int]) -> None:
        self.held.setdefault(rule.name, {})[alert.fingerprint] = Held(*root)
        await self._add(root[1], f"{trigger(rule, alert)}; it depends on {root[0]}")

    async def _root(self, service: str) -> tuple[str, int] | None:
        if self.root_incident is None:
            return None
        if service not in self._roots:
            self._roots[service] = await self.root_incident(service)
        return self._roots[service]
