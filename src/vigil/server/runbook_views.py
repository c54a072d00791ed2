"""Read models of the runbooks shared by the API and the dashboard: an incident with the
sections suggested for it, and the runbooks due for review."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.incidents.checklist import ChecklistItem, checklist
from vigil.incidents.model import Incident, TimelineEntry
from vigil.incidents.scheme import Level
from vigil.oncall import escalation
from vigil.runbooks.suggest import Suggestion, trigger_text
from vigil.server.runtime import Runtime


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    timeline: list[TimelineEntry]
    runbooks: list[Suggestion]
    url: str  # the incident's page; a suggestion's link is an anchor on it
    checklist: list[ChecklistItem] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)  # the incidents merged into this one
    level: Level | None = None  # its severity's level; None for a name the scheme no longer has
    escalation: dict[str, Any] | None = None  # where its escalation stands (oncall.escalation)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.incident.as_dict(),
            "escalation": self.escalation,
            "timeline": [entry.as_dict() for entry in self.timeline],
            "runbooks": [suggestion.as_dict(self.url) for suggestion in self.runbooks],
            "checklist": [item.as_dict() for item in self.checklist],
            "merged": self.merged,
            "level": self.level.as_dict() if self.level else None,
        }


async def incident_view(runtime: Runtime, incident_id: int) -> IncidentView:
    """The incident, its timeline and its suggested runbook sections; ``NotFoundError`` if none."""
    incident = await runtime.incidents.get(incident_id)
    timeline = await runtime.incidents.timeline(incident_id)
    runbooks = runtime.suggestions.for_incident(incident, trigger_text(timeline))
    ladder = await escalation.views(runtime.engine, runtime.stack.model, [incident_id])
    return IncidentView(
        incident,
        timeline,
        runbooks,
        f"{runtime.incidents.dashboard_url}/incidents/{incident_id}",
        await checklist(runtime.incidents, incident),
        await runtime.incidents.merged_here(incident_id),
        runtime.stack.model.scheme.get(incident.severity),
        ladder.get(incident_id),
    )


def review_view(runtime: Runtime) -> dict[str, Any]:
    """The runbooks past their "Next review" date or not updated within ``runbooks_max_age``."""
    max_age = runtime.stack.model.runbooks_max_age
    stale = runtime.library.stale(runtime.clock.now().date(), max_age)
    return {
        "runbooks": len(runtime.library.runbooks),
        "max_age_days": round(max_age / 86400, 2),
        "stale": stale,
    }
