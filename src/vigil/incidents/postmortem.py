"""A postmortem's first draft, from what Vigil saw: the impact window, how long the response took
against the severity's targets, the timeline, the status updates, the alerts and checks
involved, the runbook steps run — and the sections only people can write (root cause, action
items), with prompts. Rendered from a Jinja2 Markdown template the team may replace
(``postmortem: {template: …}``); ``vigil incident postmortem`` and the API call ``write``/``draft``.
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
from vigil.incidents.model import EventKind, Incident, TimelineEntry, span
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
)
TIMELINE_LIMIT = 300
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
    context = {
        "incident": incidents.payload(incident, _event_of(incident)),
        "window": {
            "date": f"{incident.opened_at:%Y-%m-%d}",
            "start": _when(incident.opened_at),
            "end": _when(end, incident.opened_at),
            "took": span((end - incident.opened_at).total_seconds()),
            "open": incident.resolved_at is None,
        },
        "impact": next((u.impact for u in reversed(updates) if u.impact), None),
        "response": _response(stack, incident, end),
        "timeline": [_line(e, incident.opened_at) for e in timeline if e.kind is not EventKind.NOTIFIED][
            :TIMELINE_LIMIT
        ],
        "updates": [{**u.as_dict(), "at": _when(u.at, incident.opened_at)} for u in updates],
        "checks": await _checks(stack, incidents, incident, timeline, end),
        "rules": _rules(stack, incident),
        "runs": [_run(r.as_dict(), incident.opened_at) for r in runs[::-1]],
    }
    context["summary"] = _summary(incident, context)
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


def _line(entry: TimelineEntry, since: datetime) -> dict[str, Any]:
    return {"at": _when(entry.at, since), "kind": str(entry.kind), "actor": entry.actor, "text": entry.text}


def _response(stack: Stack, incident: Incident, end: datetime) -> list[dict[str, Any]]:
    """Time to acknowledge and to resolve, each against its target when the severity has one."""
    target = stack.model.response_seconds(incident.severity)
    level = stack.model.scheme.get(incident.severity)
    acked = incident.acknowledged_at
    rows = [_measure("Time to acknowledge", incident, acked, target)]
    rows.append(_measure("Time to resolve", incident, incident.resolved_at, level.resolve if level else None))
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


def _summary(incident: Incident, context: dict[str, Any]) -> str:
    """A first sentence or two a person would write, to be corrected rather than started from nothing."""
    window = context["window"]
    what = (
        f"{incident.check or incident.service} failed ({incident.reason})"
        if incident.reason
        else incident.title
    )
    until = "and is still open" if window["open"] else f"to {window['end']} UTC ({window['took']})"
    lines = [f"{what} from {window['start']} UTC {until}."]
    ack, resolve = context["response"]
    if incident.acknowledged_by:
        target = f", within the {incident.severity} target of {ack['target']}" if ack["met"] else ""
        missed = (
            f" ({ack['verdict']} the {incident.severity} target of {ack['target']})"
            if ack["verdict"].startswith("missed")
            else ""
        )
        lines.append(f"{incident.acknowledged_by} acknowledged it after {ack['took']}{target}{missed}.")
    if incident.resolved_by:
        lines.append(f"It was resolved by {incident.resolved_by} after {resolve['took']}.")
    return " ".join(lines)
