"""Alert rules from the runbook's alerting tables and lists ("Error rate > 5% for 5 min |
Critical | Page on-call"), written as PromQL over the metric names the usual exporters and
client libraries give: ``http_requests_total`` and ``http_request_duration_seconds_bucket``
(Prometheus clients), ``node_*`` (node_exporter), ``pg_*`` (postgres_exporter),
``celery_*`` (celery-exporter). "Health check fails 3x" is no metric: it sets the health
checks' own ``alert: {after: 3}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.config.durations import format_duration
from vigil.incidents.severity import Severity
from vigil.runbooks.importer.document import Document, Place, Table
from vigil.runbooks.importer.health import HEALTH_PATH
from vigil.runbooks.importer.links import Issues
from vigil.runbooks.importer.model import MAX_ALERTS, AlertDraft, StackDraft, literal, words
from vigil.runbooks.importer.services import resolve
from vigil.runbooks.importer.thresholds import Condition, read, severity

CHECK_EVERY = 30.0  # the interval health checks are drafted with, to turn "for 2 minutes" into runs
_CONDITION_COLUMNS = ("condition", "alert", "rule", "trigger", "metric", "threshold", "when")
_DOWN = re.compile(
    r"^(?P<what>.+?)\s+(?:is\s+)?(?:down|unavailable|unreachable|not running|stopped|crashed|offline)\b"
)
HEALTH_CUES = ("502", "bad gateway", "down", "outage", "not responding", "unavailable", "crash", "503")


def _ratio(c: Condition) -> float:
    value = c.value or 0.0
    return value / 100 if c.unit == "%" or value > 1 else value


def _n(value: float) -> str:
    return f"{value:.6g}"


def _error_rate(c: Condition) -> str:
    errors = 'sum(rate(http_requests_total{status=~"5.."}[5m]))'
    if c.unit != "%" and re.search(r"per (?:min|minute)|/min", c.text, re.I):
        return f"{errors} * 60 {c.op} {_n(c.value or 0)}"
    return f"{errors} / sum(rate(http_requests_total[5m])) {c.op} {_n(_ratio(c))}"


def _latency(c: Condition) -> str:
    match = re.search(r"\bp(\d{2,3})\b", c.subject)
    quantile = float("0." + match.group(1)) if match else 0.95
    buckets = "sum by (le) (rate(http_request_duration_seconds_bucket[5m]))"
    return f"histogram_quantile({_n(quantile)}, {buckets}) {c.op} {_n(c.value or 0)}"


def _connections(c: Condition) -> str:
    if c.unit == "%":
        return f"sum(pg_stat_activity_count) / sum(pg_settings_max_connections) {c.op} {_n(_ratio(c))}"
    return f"sum(pg_stat_activity_count) {c.op} {_n(c.value or 0)}"


def _memory(c: Condition) -> str:
    if c.unit == "bytes":
        return f"process_resident_memory_bytes {c.op} {_n(c.value or 0)}"
    return f"1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes {c.op} {_n(_ratio(c))}"


_FILESYSTEMS = '{fstype!~"tmpfs|overlay"}'


@dataclass(frozen=True)
class Metric:
    name: str
    subject: re.Pattern[str]
    cues: tuple[str, ...]  # words of the runbook section to point the responder at
    expr: Callable[[Condition], str]
    needs_value: bool = True


METRICS = (
    Metric("HighLatency", re.compile(r"\bp\d{2,3}\b|latenc|response time"), ("slow", "latency", "response time", "timeout"), _latency),
    Metric(
        "LlmApiErrors", re.compile(r"\b(?:llm|openai|anthropic|model|provider)\b.*error"), ("llm", "openai", "provider", "chat"),
        lambda c: f'sum(rate(llm_requests_total{{status="error"}}[5m])) / sum(rate(llm_requests_total[5m])) {c.op} {_n(_ratio(c))}',
    ),
    Metric("HighErrorRate", re.compile(r"error|5xx|failure rate"), ("error rate", "5xx", "502", "500", "bad gateway", "high error"), _error_rate),
    Metric("DatabaseConnectionsHigh", re.compile(r"connection|pool"), ("database connection", "connections", "pool"), _connections),
    Metric(
        "DiskUsageHigh", re.compile(r"disk|filesystem|storage|volume"), ("disk", "storage", "space"),
        lambda c: f"1 - node_filesystem_avail_bytes{_FILESYSTEMS} / node_filesystem_size_bytes{_FILESYSTEMS} {c.op} {_n(_ratio(c))}",
    ),
    Metric("MemoryUsageHigh", re.compile(r"memory|\bram\b|\brss\b"), ("memory", "oom", "leak"), _memory),
    Metric(
        "CpuUsageHigh", re.compile(r"\bcpu\b"), ("cpu", "load"),
        lambda c: f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[5m])) {c.op} {_n(_ratio(c))}',
    ),
    Metric(
        "QueueDepthHigh", re.compile(r"queue|backlog|pending"), ("queue", "celery", "worker", "task"),
        lambda c: f"sum by (queue_name) (celery_queue_length) {c.op} {_n(c.value or 0)}",
    ),
    Metric(
        "RequestRate", re.compile(r"request rate|requests per|\brps\b|traffic|throughput"), ("traffic", "load"),
        lambda c: f"sum(rate(http_requests_total[5m])) {c.op} {_n(c.value or 0)}",
    ),
)  # fmt: skip


def find(document: Document, draft: StackDraft, issues: Issues | None) -> None:
    words_used: dict[str, Severity] = {}
    for table in document.tables:
        column = _condition_column(table)
        if column is None or (
            table.column("severity", "level", "priority") is None and not table.place.says("alert")
        ):
            continue
        for row in table.rows:
            said = severity(row.get("severity", "level", "priority"), table.place.lead, table.place.heading)
            action = row.get("action", "response", "notify", "route")
            _rule(draft, row.cells.get(column, ""), row.line, said, action, issues, words_used)
    for item in document.items:
        if item.checked is None and _alerting(item.place):
            said = severity(item.place.lead, item.place.heading)
            _rule(draft, item.text, item.line, said, "", issues, words_used)
    if words_used:
        shown = ", ".join(f"{word} → {level}" for word, level in words_used.items())
        draft.alert_comments.append(f"Severities: the runbook's {shown} (Vigil's P1 pages first).")


def _condition_column(table: Table) -> str | None:
    """The column that states the conditions: of those named like one, the one whose cells
    most often hold a threshold ("Alert | Threshold | Severity" states them under Threshold)."""
    named = [h for h in table.header if any(n in h for n in _CONDITION_COLUMNS)]
    if len(named) < 2:
        return named[0] if named else None
    return max(
        named,
        key=lambda h: (sum(read(r.cells.get(h, "")).value is not None for r in table.rows), -named.index(h)),
    )


def _alerting(place: Place) -> bool:
    return place.says("alert") and not place.says("rollback", "scale", "scaling")


def _rule(
    draft: StackDraft,
    text: str,
    line: int,
    said: tuple[Severity, str] | None,
    action: str,
    issues: Issues | None,
    words_used: dict[str, Severity],
) -> None:
    condition = read(text)
    level = said[0] if said else Severity.P2
    if said:
        words_used.setdefault(said[1].capitalize(), said[0])
    why = draft.cite(
        line, f"{text} | {said[1] if said else 'no severity given'}" + (f" | {action}" if action else "")
    )
    if action and re.search(r"restart|rollback|roll back|scale|failover", action, re.I):
        draft.note("automatic actions", line, f"{text}: {action}")
    if re.search(r"health ?check|healthcheck|health endpoint", condition.subject):
        _health_policy(draft, condition, level, why, issues)
        return
    expr, metric = _expression(draft, condition)
    if expr is None:
        draft.note("alerts not drafted", line, f"{text}: no conventional metric says this")
        return
    fields: dict[str, Any] = {"name": metric, "expr": expr}
    if condition.hold:
        fields["for"] = format_duration(condition.hold)
    fields["severity"] = str(level)
    fields["annotations"] = {"summary": literal(words(text).replace("{{", "{ {"))}
    runbook = issues.best(_cues(metric)) if issues else None
    if runbook:
        fields["runbook"] = runbook
    _add(draft, AlertDraft(fields, line, why), said[1] if said else "")


def _cues(name: str) -> tuple[str, ...]:
    return next((m.cues for m in METRICS if name.startswith(m.name)), ())


def _expression(draft: StackDraft, condition: Condition) -> tuple[str | None, str]:
    down = _DOWN.match(condition.subject or condition.text.lower())
    if down and condition.value is None:
        what = down["what"].strip()
        if "celery" in what or "worker" in what:
            return "absent(celery_worker_up == 1)", "CeleryWorkerDown"
        service = resolve(draft, what)
        if service is not None:
            return f'up{{job="{service.name}"}} == 0', _camel(service.name) + "Down"
        return None, ""
    for metric in METRICS:
        if metric.subject.search(condition.subject) and (
            condition.value is not None or not metric.needs_value
        ):
            return metric.expr(condition), metric.name
    return None, ""


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]+", name) if part) or "Service"


def _add(draft: StackDraft, alert: AlertDraft, word: str) -> None:
    same = ("expr", "for", "severity")
    for existing in draft.alerts:
        if all(existing.fields.get(k) == alert.fields.get(k) for k in same):
            return  # the runbook says it again (a repeated section): one rule
    if len(draft.alerts) >= MAX_ALERTS:
        draft.note("alerts not drafted", alert.line, f"more than {MAX_ALERTS} rules: {alert.fields['name']}")
        return
    names = {a.fields["name"] for a in draft.alerts}
    base = alert.fields["name"]
    name = base if base not in names else base + _camel(word)
    n = 1
    while name in names:
        n += 1
        name = f"{base}{n}"
    alert.fields["name"] = name
    draft.alerts.append(alert)


def _health_policy(
    draft: StackDraft, condition: Condition, level: Severity, why: str, issues: Issues | None
) -> None:
    """ "Health check fails 3x" / "failing for 2 minutes": when the health checks open an incident."""
    after = condition.times or (max(1, math.ceil(condition.hold / CHECK_EVERY)) if condition.hold else 3)
    for service in draft.services.values():
        if service.datastore or service.external:
            continue
        for check in service.checks.values():
            if _answers_health(check.fields) and "alert" not in check.fields:
                if condition.hold:
                    check.fields["every"] = format_duration(CHECK_EVERY)
                check.fields["alert"] = {"after": min(after, 1000), "severity": str(level)}
                check.also.insert(0, why)


def link_checks(draft: StackDraft, issues: Issues) -> None:
    """Each app's health check points at the section for an outage ("502 Bad Gateway")."""
    section = issues.best(HEALTH_CUES)
    if section is None:
        return
    for service in draft.services.values():
        for check in service.checks.values():
            if not service.external and not service.datastore and _answers_health(check.fields):
                check.fields.setdefault("runbook", section)


def _answers_health(fields: dict[str, Any]) -> bool:
    """A health endpoint itself (``/health``, ``/health/ready``), not a detail page below one."""
    url = str(fields.get("http", "")).split("?")[0].rstrip("/")
    return bool(url) and bool(HEALTH_PATH.search("/" + url.rsplit("/", 1)[-1]))
