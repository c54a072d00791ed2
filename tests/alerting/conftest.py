"""Rule evaluation on a real store: chosen samples per rule, a fake clock, and dependencies
marked down by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.alert_states import AlertStates
from vigil.alerting.evaluator import RuleEvaluator
from vigil.config.alerts import AlertRule
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.model import EventKind
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity

Samples = list[tuple[Mapping[str, str], float]]


class Rules:
    """The stage as Vigil runs it; ``restart()`` gives a new evaluator over the same store."""

    def __init__(
        self, engine: AsyncEngine, stack: str, *, keep: str | None = None, grace: float = 600
    ) -> None:
        self.engine = engine
        # With ``keep``, alerts are kept in the store as that stack (alerting.alert_states) and
        # each restart restores them, with ``grace`` as ``metrics.restore_for_grace``.
        self.keep, self.grace = keep, grace
        self.clock = FakeClock()
        self.stack = parse_stack("t.yaml", stack, {}).model
        self.incidents = IncidentService(engine, self.stack, self.clock)
        self.samples: dict[str, Samples] = {}  # rule name → what its expression returns now
        self.down: dict[str, tuple[str, int]] = {}  # service → its failing dependency and incident
        self.broken: set[str] = set()  # rules whose query fails
        self.evaluator = self.restart()

    def restart(self, rules: list[AlertRule] | None = None) -> RuleEvaluator:
        async def query(rule: AlertRule, at: float) -> Samples:
            if rule.name in self.broken:
                raise ConnectionError("Prometheus unreachable")
            return list(self.samples.get(rule.name, []))

        async def root_incident(service: str) -> tuple[str, int] | None:
            return self.down.get(service)

        self.evaluator = RuleEvaluator(
            self.stack.alerts if rules is None else rules,
            query,
            self.incidents,
            self.clock,
            every=15,
            root_incident=root_incident,
            states=AlertStates(self.engine, self.keep, self.clock, grace=self.grace) if self.keep else None,
        )
        return self.evaluator

    async def step(self, seconds: float = 15) -> None:
        await self.clock.advance(seconds)
        await self.evaluator.evaluate_once()

    async def dependency_down(self, service: str) -> int:
        """Open the check incident of ``service`` failing; returns its id."""
        incident = await self.incidents.open(
            key=f"check:{service}.ping",
            title=f"{service}.ping is failing",
            severity=Severity.P1,
            service=service,
            check_id=f"{service}.ping",
            reason="connection refused",
            channels=None,
            trigger=f"{service}.ping failed",
        )
        assert incident is not None
        return incident.id

    async def status(self, key_or_id: str | int) -> str:
        if isinstance(key_or_id, int):
            return str((await self.incidents.get(key_or_id)).status)
        found = [i for i in await self.incidents.list() if i.key == key_or_id]
        return str(found[0].status) if found else "none"

    async def lines(self, incident_id: int, kind: EventKind | None = None) -> list[str]:
        return [e.text for e in await self.incidents.timeline(incident_id) if kind in (None, e.kind)]

    async def rule_incidents(self) -> list[tuple[str, str]]:
        """(title, status) of every rule incident, oldest first."""
        found = [i for i in await self.incidents.list() if i.key.startswith("alert:")]
        return [(i.title, str(i.status)) for i in sorted(found, key=lambda i: i.id)]


@pytest.fixture
def rules(engine: AsyncEngine) -> Callable[[str], Rules]:
    return lambda stack: Rules(engine, stack)
