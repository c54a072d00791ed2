"""A postmortem's first draft, from what Vigil saw: a summary in sentences
(``postmortem_summary``), the impact window, how long the response took against the severity's
targets and who was paged, the timeline condensed to its story (``postmortem_timeline``), the
status updates, the alerts and checks involved, the runbook steps run — and the sections only
people can write (root cause, action items), each saying what to write there. Rendered from a
Jinja2 Markdown template the team may replace (``postmortem: {template: …}``); ``vigil incident
postmortem`` and the API call ``write``/``draft``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from vigil.config.load import Stack
from vigil.errors import ConflictError, VigilError
from vigil.incidents import postmortem_timeline
from vigil.incidents.model import Incident, TimelineEntry, span
from vigil.incidents.postmortem_summary import day, spoken, summary
from vigil.incidents.service import IncidentService
from vigil.incidents.updates import StatusUpdates
from vigil.notify.base import MessageEvent
from vigil.notify.message_template import MessageTemplate, TemplateFault
from vigil.store.runbook_runs import RunbookRuns
from vigil.store.tables import ResultRow

DEFAULT_TEMPLATE = Path(__file__).with_name("postmortem.md.j2")
NAMES = (
    "incident",
    "summary",
    "window",
    "impact",
    "response",
    "timeline",
    "updates",
    "checks",
    "rules",
    "runs",
    "paging",
    "timeline_more",
)
SIZE_LIMIT = 500_000  # characters of Markdown
CHECK_ID = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Postmortem:
    incident: Incident
    markdown: str


async def draft(stack: Stack, incidents: IncidentService, incident_id: int) -> Postmortem:
    """The postmortem of ``incident_id`` as Markdown; ``NotFoundError`` for an unknown incident."""
    incident = await incidents.get(incident_id)
    timeline = await incidents.timeline(incident_id)
    updates = await StatusUpdates(incidents).list(incident_id)
    runs = await RunbookRuns(incidents.engine).recent(incident_id=incident_id, limit=100)
    end = incident.resolved_at or incidents.clock.now()
    since = incident.opened_at
    shown, more = postmortem_timeline.condensed(timeline, lambda moment: _when(moment, since))
    paged, policy = postmortem_timeline.pages(timeline)
    targets = (stack.model.response_seconds(incident.severity), _resolve_target(stack, incident))
    context = {
        "incident": incidents.payload(incident, _event_of(incident)),
        "window": {
            "date": f"{since:%Y-%m-%d}",
            "day": day(since),
            "start": _when(since),
            "end": _when(end, since),
            "took": span((end - since).total_seconds()),
            "took_words": spoken((end - since).total_seconds()),
            "open": incident.resolved_at is None,
        },
        "impact": next((u.impact for u in reversed(updates) if u.impact), None),
        "response": _response(incident, targets),
        "paging": {
            "policy": policy,
            "pages": [
                {"who": p.who, "source": p.source, "step": p.step, "at": _when(p.at, since), "times": p.times}
                for p in paged
            ],
        },
        "timeline": shown,
        "timeline_more": more,
        "updates": [{**u.as_dict(), "at": _when(u.at, since)} for u in updates],
        "checks": await _checks(stack, incidents, incident, timeline, end),
        "rules": _rules(stack, incident),
        "runs": [_run(r.as_dict(), since) for r in runs[::-1]],
        "summary": summary(incident, end, targets, paged),
    }
    source = _source(stack)
    template = MessageTemplate(source, name="postmortem template", known=NAMES, limit=SIZE_LIMIT, budget=5.0)
    return Postmortem(incident, stack.redactor(template.render(context)))


def default_path(stack: Stack, incident: Incident) -> Path:
    """``docs/incidents/YYYY-MM-DD-<slug>.md`` next to the stack file (its ``postmortem.folder``)."""
    slug = (
        re.sub(r"[^a-z0-9]+", "-", incident.title.lower()).strip("-")[:60].rstrip("-")
        or f"incident-{incident.id}"
    )
    return _beside(stack, stack.model.postmortem.folder) / f"{incident.opened_at:%Y-%m-%d}-{slug}.md"


def write(path: Path, postmortem: Postmortem, *, force: bool = False) -> Path:
    """Write the postmortem; ``ConflictError`` when ``path`` exists and ``force`` is not given:
    a postmortem people have started writing is never overwritten by a fresh draft."""
    if path.exists() and not force:
        raise ConflictError(f"{path} exists; --force writes over it (what people wrote there is lost)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(postmortem.markdown, encoding="utf-8")
    except OSError as err:
        raise VigilError(f"cannot write {path}: {err.strerror}") from None
    return path


def _source(stack: Stack) -> str:
    chosen = stack.model.postmortem.template
    path = _beside(stack, chosen) if chosen else DEFAULT_TEMPLATE
    try:
        return path.read_text(encoding="utf-8")[: SIZE_LIMIT + 1]
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise TemplateFault("postmortem template", f"cannot read {path}: {reason}") from None


def _beside(stack: Stack, relative: str) -> Path:
    base = Path(stack.file).parent if stack.file else Path.cwd()
    return base / relative


def _event_of(incident: Incident) -> MessageEvent:
    return MessageEvent.RESOLVED if not incident.is_open else MessageEvent.TRIGGERED


def _when(moment: datetime, since: datetime | None = None) -> str:
    """``10:34`` within the day the incident began, ``2026-01-16 09:02`` after it."""
    if since is not None and moment.date() == since.date():
        return f"{moment:%H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def _resolve_target(stack: Stack, incident: Incident) -> float | None:
    level = stack.model.scheme.get(incident.severity)
    return level.resolve if level else None


def _response(incident: Incident, targets: tuple[float | None, float | None]) -> list[dict[str, Any]]:
    """Time to acknowledge, to mitigate (when it was) and to resolve, each against its target
    when the severity has one."""
    acknowledge, resolve = targets
    rows = [_measure("Time to acknowledge", incident, incident.acknowledged_at, acknowledge)]
    if incident.mitigated_at is not None:
        rows.append(_measure("Time to mitigate", incident, incident.mitigated_at, None))
    rows.append(_measure("Time to resolve", incident, incident.resolved_at, resolve))
    return rows


def _measure(name: str, incident: Incident, at: datetime | None, target: float | None) -> dict[str, Any]:
    took = (at - incident.opened_at).total_seconds() if at else None
    if took is None:
        verdict = "not yet" if incident.is_open else "never"
    elif target is None:
        verdict = ""
    else:
        verdict = "met" if took <= target else f"missed by {span(took - target)}"
    return {
        "measure": name,
        "took": span(took) if took is not None else "—",
        "target": span(target) if target is not None else "—",
        "verdict": verdict,
        "met": took is not None and target is not None and took <= target,
    }


async def _checks(
    stack: Stack, incidents: IncidentService, incident: Incident, timeline: list[TimelineEntry], end: datetime
) -> list[dict[str, Any]]:
    """The incident's check and every check its timeline names, with their failures in the window."""
    known = {spec.id: spec for spec in stack.model.checks()}
    named = [incident.check] if incident.check else []
    for entry in timeline:
        named += [found for found in CHECK_ID.findall(entry.text) if found in known and found not in named]
    shown = []
    for check_id in named[:20]:
        query = (
            select(
                ResultRow.reason, func.count(), func.min(ResultRow.started_at), func.max(ResultRow.started_at)
            )
            .where(
                ResultRow.check_id == check_id,
                ResultRow.ok.is_(False),
                ResultRow.started_at >= incident.opened_at,
                ResultRow.started_at <= end,
            )
            .group_by(ResultRow.reason)
            .order_by(func.count().desc())
            .limit(5)
        )
        async with incidents.engine.connect() as conn:
            groups = (await conn.execute(query)).all()
        spec = known.get(check_id)
        shown.append(
            {
                "id": check_id,
                "kind": spec.kind if spec else "check",
                "failures": sum(count for _, count, _, _ in groups),
                "first": _when(min(first for _, _, first, _ in groups), incident.opened_at)
                if groups
                else None,
                "last": _when(max(last for _, _, _, last in groups), incident.opened_at) if groups else None,
                "reasons": [
                    {"reason": reason or "no reason given", "count": count} for reason, count, _, _ in groups
                ],
            }
        )
    return shown


def _rules(stack: Stack, incident: Incident) -> list[dict[str, Any]]:
    if not incident.key.startswith("alert:"):
        return []
    name = incident.key.split(":")[1]
    return [
        {"name": rule.name, "expr": rule.expr, "severity": str(rule.severity), "for": rule.for_}
        for rule in stack.model.alerts
        if rule.name == name
    ]


def _run(run: dict[str, Any], since: datetime) -> dict[str, Any]:
    return {**run, "at": _when(datetime.fromisoformat(run["started_at"]), since)}
