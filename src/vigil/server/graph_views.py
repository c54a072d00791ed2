"""The dashboard's graphs as the API and the pages read them: a check's, a rule's, an incident's,
a backup job's.

Each takes the runtime and what the caller asked for (already bounded by the route) and returns
a ``Graph``; an unknown check, rule or incident is a ``NotFoundError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from vigil.alerting.alerts import alert_labels
from vigil.backups.jobs import job_named
from vigil.config.alerts import AlertRule
from vigil.errors import BackupRefused, NotFoundError
from vigil.incidents.model import Incident
from vigil.metrics.graphs import Graph, Line, check_graph, expression_graph
from vigil.metrics.promql.model import PromQLError
from vigil.metrics.threshold import split
from vigil.server.runtime import Runtime
from vigil.store.backup_runs import BackupRuns

HOUR = 3600.0
MAX_CHECK_HOURS = 720  # the history's retention: 30 days
MAX_RULE_HOURS = 24  # rules are drawn from the series store in memory
MAX_BACKUP_HOURS = 2160  # backups are drawn from their record of runs: 90 days
MAX_POINTS = 2000
POINTS = 500
# An incident's graph starts this share of its length before it opened, within these bounds.
LEAD, MIN_LEAD, MAX_LEAD = 0.25, 600.0, 6 * HOUR


def rule_named(runtime: Runtime, name: str) -> AlertRule:
    for rule in runtime.stack.model.alerts:
        if rule.name == name:
            return rule
    raise NotFoundError(f"no alert rule {name!r} in {runtime.stack.file}")


async def check_graph_of(
    runtime: Runtime, check_id: str, hours: float, points: int = POINTS, *, end: float | None = None
) -> Graph:
    status = runtime.board.checks.get(check_id)
    if status is None:
        raise NotFoundError(f"no check {check_id[:200]!r}; checks are addressed as service.check")
    end = runtime.clock.now().timestamp() if end is None else end
    spec = status.spec
    return await check_graph(
        runtime.series, runtime.engine, spec.service, spec.name, end - hours * HOUR, end, points
    )


async def rule_graph_of(
    runtime: Runtime,
    name: str,
    hours: float,
    points: int = POINTS,
    *,
    end: float | None = None,
    alert: Mapping[str, str] | None = None,
) -> Graph:
    """The rule's measured side over the last ``hours``; with ``alert`` (an alert's labels), only
    the series whose alerts join that alert's incident (and which crossed the threshold)."""
    rule = rule_named(runtime, name)
    end = runtime.clock.now().timestamp() if end is None else end
    try:
        parts = split(rule.expr)
    except PromQLError as err:  # only with ``prometheus:``, whose rules Vigil need not evaluate
        return Graph(end - hours * HOUR, end, [], [], notes=[f"Vigil cannot draw this expression: {err}"])
    keep = None if alert is None else partial(behind, alert, rule)
    return await expression_graph(
        parts.measured,
        runtime.series,
        end - hours * HOUR,
        end,
        points,
        parts.threshold,
        keep,
        crossing=alert is not None,
    )


def behind(alert: Mapping[str, str], rule: AlertRule, series: Mapping[str, str]) -> bool:
    """Whether ``series`` (a label set of the rule's expression) would alert into the incident of
    ``alert`` (an alert of it): the two agree on the rule's ``group_by`` labels, which the alerts
    sharing one incident share (``alerts.RuleAlerts.group_key``)."""
    labels = alert_labels(rule, series, alert.get("severity", ""))
    return all(labels.get(name, "") == alert.get(name, "") for name in rule.group_by)


async def backup_graph_of(
    runtime: Runtime, name: str, hours: float, points: int = POINTS, *, end: float | None = None
) -> Graph:
    """The size and duration of each good backup of the job ``name``; with more backups than
    ``points``, every n-th, counted back from the newest."""
    try:
        job = job_named(runtime.stack, name[:200])
    except BackupRefused as err:
        raise NotFoundError(str(err)) from None
    end = runtime.clock.now().timestamp() if end is None else end
    start = end - hours * HOUR
    rows = await BackupRuns(runtime.engine).backups(job.name, datetime.fromtimestamp(start, UTC))
    stride = -(-len(rows) // points)  # ceiling
    shown = rows[::-1][::stride][::-1] if rows else []
    return Graph(
        start,
        end,
        [at.timestamp() for at, _, _ in shown],
        [
            Line("size", "bytes", [float(size) for _, _, size in shown]),
            Line("duration", "ms", [took * 1000 for _, took, _ in shown]),
        ],
    )


@dataclass(frozen=True)
class IncidentGraph:
    """What an incident's graph shows: the check or rule that opened it, over ``graph``'s window."""

    kind: str  # "check" or "rule"
    name: str
    graph: Graph


def incident_source(runtime: Runtime, incident: Incident) -> tuple[str, str] | None:
    """``("check", id)`` or ``("rule", name)`` for what opened ``incident``; None when neither is
    in the stack file any more (or it was opened by hand or by Alertmanager)."""
    if incident.check is not None and incident.check in runtime.board.checks:
        return "check", incident.check
    name = incident.labels.get("alertname", "")
    if incident.key.startswith(f"alert:{name}:") and any(r.name == name for r in runtime.stack.model.alerts):
        return "rule", name
    return None


async def incident_graph_of(
    runtime: Runtime, incident: Incident, points: int = POINTS
) -> IncidentGraph | None:
    """The window around ``incident`` for the check or rule that opened it: of a rule, only the
    series of the alerts the incident gathers, not every series the rule returns."""
    source = incident_source(runtime, incident)
    if source is None:
        return None
    kind, name = source
    start, end = window(incident, runtime.clock.now())
    hours = (end - start) / HOUR
    if kind == "check":
        return IncidentGraph(kind, name, await check_graph_of(runtime, name, hours, points, end=end))
    rule_hours = min(hours, MAX_RULE_HOURS)
    graph = await rule_graph_of(runtime, name, rule_hours, points, end=end, alert=incident.labels)
    return IncidentGraph(kind, name, graph)


def window(incident: Incident, now: datetime) -> tuple[float, float]:
    """From a while before ``incident`` opened to its end (a while after, up to now) or now."""
    opened = incident.opened_at.timestamp()
    closed = incident.resolved_at.timestamp() if incident.resolved_at else now.timestamp()
    lead = min(max((closed - opened) * LEAD, MIN_LEAD), MAX_LEAD)
    end = min(closed + lead, now.timestamp()) if incident.resolved_at else now.timestamp()
    start = max(opened - lead, end - MAX_CHECK_HOURS * HOUR)
    return start, max(end, start + 60.0)
