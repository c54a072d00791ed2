"""The stack file ``vigil demo`` watches its target with, written out as YAML with comments so
that a newcomer can read it, copy it and change it.

PostgreSQL and the cache are checked through the target's own readiness report rather than as
real servers, so the demo needs nothing installed; they are still services of their own, so that
a database outage pages once for ``postgres`` and not again for every service that needs it.

The worker's heartbeat is pinged by the target itself, and the vendor's status page is one the
target serves; a Redis of this machine's own, when one answers, is watched with its numbers.
"""

from __future__ import annotations

import json
import socket
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from vigil.demo.worker import DEMO_BEAT_KEY

DEMO_LOG_CHANNEL = "demo-log"
DEMO_WEBHOOK_CHANNEL = "demo-webhook"
DEMO_RUNBOOK = "demo-runbook.md"  # written beside the stack file by ``write_demo_runbook``
DEMO_POLICY = "demo-oncall"
DEMO_PEOPLE = ("alice", "bob", "carol")
ROTATION_START = "2026-01-05"  # a Monday: alice's first day as primary
LOCAL_REDIS_PORT = 6379
LOCAL_REDIS = f"redis://127.0.0.1:{LOCAL_REDIS_PORT}/0"
DEMO_BACKUP_JOB = "vigil-db"  # the demo's own store, backed up beside the stack file
DEMO_BACKUPS = f"backups/{DEMO_BACKUP_JOB}"
BACKUP_EVERY = 2  # minutes
BACKUP_RPO = "5m"  # two missed backups and a minute: stale

_TEMPLATE = """\
# Vigil's demo: its built-in target app, an AI backend with a database and a cache.
# Break the target and watch an alert fire, an incident open and the on-call person be paged:
#   curl -X POST {shown}/chaos -H 'content-type: application/json' -d '{{"mode": "fail"}}'
# Then:
#   1. open the inbox, {shown}/inbox: the page the person on call received, with its
#      acknowledge link;
#   2. open the incident on the dashboard: its escalation, the step it is at and when the next
#      page goes; leave it a minute and the secondary is paged too, a minute later the lead;
#   3. click Acknowledge on a page in the inbox: the incident is acknowledged and the
#      escalation stops.
#   4. say what is going on: `vigil incident update ID --status identified "…" -c THIS-FILE`.
# Other modes: slow, db_down, cache_down, worker_down (the worker stops pinging its heartbeat),
# vendor_outage (the vendor's status page reports an outage); mend it with {{"mode": "recover"}},
# and the incident resolves. Then `vigil incident postmortem ID -o - -c THIS-FILE` drafts its postmortem.
services:
  api:
    description: The backend's liveness endpoint; unhealthy, degraded and slow answers all fail it.
    depends_on: [postgres, cache]
    metrics: {{url: {metrics}, every: 2s}}
    checks:
      health:
        http: {health}
        every: 2s
        timeout: 2s
        expect: {{status: 200, json: {{status: healthy}}, max_ms: 1000}}
        alert: {{after: 2, severity: P1}}
        runbook: {runbook}#issue-api-health-check-failing
  ready:
    description: Whether the backend would take traffic.
    depends_on: [postgres, cache]
    checks:
      ready:
        http: {ready}
        every: 2s
        expect: {{status: 200, json: ["checks.db.status == healthy"]}}
        alert: {{after: 2, severity: P2}}
  postgres:
    description: The backend's database, as its readiness report sees it.
    checks:
      status:
        http: {ready}
        every: 2s
        # 503 is the report saying "degraded"; this field says whether the database is the cause.
        expect: {{status: [200, 503], json: ["checks.db.status == healthy"]}}
        alert: {{after: 2, severity: P1}}
        runbook: {runbook}#issue-database-connection-errors
  cache:
    description: The backend's cache, as its readiness report sees it.
    checks:
      status:
        http: {ready}
        every: 2s
        expect: {{status: [200, 503], json: ["checks.cache.status == healthy"]}}
        alert: {{after: 2, severity: P2}}
  worker:
    description: The backend's worker, which pings Vigil after each run; worker_down stops it.
    checks:
      # A push check: every 10s the target's worker calls Vigil's /ping/KEY,
      # {vigil}/ping/KEY; no ping for every + grace fails it.
      beat:
        heartbeat: {{every: 10s, grace: 10s, key: {beat_key}}}
  vendor:
    description: The model vendor the backend calls, as its Statuspage status page reports it.
    checks:
      status:
        statuspage: {vendor}
        every: 10s
        alert: {{after: 1, severity: P2}}
{redis_service}# Rules over the target's own /metrics, in PromQL, evaluated by Vigil itself.
alerts:
  - name: HighErrorRate
    expr: sum(rate(http_requests_total{{status=~"5.."}}[30s])) / sum(rate(http_requests_total[30s])) > 0.05
    for: 6s
    severity: P1
    labels: {{service: api}}
    annotations: {{summary: "Error rate {{{{ $value | humanizePercentage }}}}"}}
    runbook: {runbook}#issue-high-error-rate
  - name: SlowP95
    expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[30s]))) > 1
    for: 6s
    severity: P2
    labels: {{service: api}}
    annotations: {{summary: "p95 latency {{{{ $value | humanizeDuration }}}}"}}
engine: {{evaluate_every: 2s}}
# The demo's state, beside this file: `vigil incident list -c THIS-FILE` reads what the demo saw.
store: {{url: "sqlite:///vigil.db"}}
# Vigil backs that state up every {backup_every} minutes and proves each copy by restoring it into a
# scratch file; the check backups.{backup_job} fails, and pages like any other, when the newest
# verified backup is older than the rpo. See them on the dashboard's Backups page. To watch one
# go stale: stop the demo for more than {backup_rpo} and start it again (the next backup mends it),
# or make {backup_folder} read-only (`chmod a-w`; not for root) and the next backup fails.
backups:
  {backup_job}:
    engine: sqlite
    source: vigil.db
    schedule: "*/{backup_every} * * * *"
    destination: {backup_folder}
    keep: {{count: 10}}
    verify: restore
    rpo: {backup_rpo}
    alert: {{after: 1, severity: P2}}
# The demo's runbook, beside this file: its procedures are suggested on incidents (the checks
# and rules above name one; the rest are ranked) and run against the target from the dashboard.
runbooks: [{runbook}]
env:
  DEMO_TARGET: {target}
notify:
  channels:
    {log_channel}: {{log: true}}
{webhook_line}  default: [{defaults}]
# The people Vigil pages, each at Apprise URLs (mailto://, slack://, ntfy://… in a real team).
# Here json:// posts each page to the demo target's inbox, so nothing leaves this machine.
people:
  alice: {{name: Alice Martin, notify: [{alice}]}}
  bob: {{name: Bob Chen, notify: [{bob}]}}
  carol: {{name: Carol Diaz (team lead), notify: [{carol}]}}
oncall:
  schedules:
    # alice and bob take turns by the day, handing over at 09:00 UTC; whoever is not primary is
    # secondary. `vigil oncall who -c THIS-FILE` says who is on now.
    primary:
      timezone: UTC
      rotation: {{every: 1d, handoff: "09:00", start: {start}}}
      members: [alice, bob]
    secondary:
      timezone: UTC
      rotation: {{every: 1d, handoff: "09:00", start: {start}}}
      members: [bob, alice]
  # How a page escalates until someone acknowledges it: the primary at once, the secondary a
  # minute later, then carol; then once more from the top. A team would wait 10-15 minutes.
  escalation:
    {policy}:
      steps:
        - {{notify: ["schedule:primary"], wait: 1m}}
        - {{notify: ["schedule:secondary"], wait: 1m}}
        - {{notify: ["person:carol"], wait: 1m}}
      repeat: 1
# Each level's targets (the postmortem measures the response against them) and the escalation
# policy its incidents start.
severities:
  P1: {{acknowledge: 5m, resolve: 30m, escalation: {policy}}}
  P2: {{acknowledge: 15m, resolve: 2h, escalation: {policy}}}
"""


_REDIS_SERVICE = f"""\
  cache-redis:
    description: This machine's Redis, with its memory, hit ratio, clients and evictions.
    checks:
      server:
        redis: {LOCAL_REDIS}
        stats: true
        every: 10s
"""
_NO_REDIS = """\
  # No Redis answered on 127.0.0.1:6379 when the demo started; with one running, the demo also
  # watches it (a `redis` check with `stats: true`).
"""


def demo_stack_yaml(
    target_url: str,
    webhook_url: str | None = None,
    *,
    vigil_url: str = "http://127.0.0.1:8484",
    redis: bool = False,
) -> str:
    """A stack file watching the demo target at ``target_url`` (``http://127.0.0.1:8080``),
    paging the log channel and, when ``webhook_url`` is given, a webhook too. ``vigil_url`` is
    where the Vigil serving it listens (named in a comment); ``redis`` adds a check of the
    local Redis (``local_redis_answers``)."""
    base = _checked_url(target_url, "target_url").rstrip("/")
    vigil = _checked_url(vigil_url, "vigil_url").rstrip("/")
    channels = [DEMO_LOG_CHANNEL]
    webhook_line = ""
    if webhook_url is not None:
        hook = _scalar(_checked_url(webhook_url, "webhook_url"))
        webhook_line = f"    {DEMO_WEBHOOK_CHANNEL}: {{webhook: {hook}}}\n"
        channels.append(DEMO_WEBHOOK_CHANNEL)
    return _TEMPLATE.format(
        shown=base,
        health=_scalar(f"{base}/health"),
        metrics=_scalar(f"{base}/metrics"),
        ready=_scalar(f"{base}/health/ready"),
        target=_scalar(base),
        runbook=DEMO_RUNBOOK,
        log_channel=DEMO_LOG_CHANNEL,
        webhook_line=webhook_line,
        defaults=", ".join(channels),
        alice=_scalar(inbox_url(base, "alice")),
        bob=_scalar(inbox_url(base, "bob")),
        carol=_scalar(inbox_url(base, "carol")),
        start=ROTATION_START,
        policy=DEMO_POLICY,
        vigil=vigil,
        beat_key=_scalar(DEMO_BEAT_KEY),
        vendor=_scalar(f"{base}/vendor"),
        redis_service=_REDIS_SERVICE if redis else _NO_REDIS,
        backup_job=DEMO_BACKUP_JOB,
        backup_folder=DEMO_BACKUPS,
        backup_every=BACKUP_EVERY,
        backup_rpo=BACKUP_RPO,
    )


def local_redis_answers(port: int = LOCAL_REDIS_PORT, timeout: float = 0.2) -> bool:
    """Whether something accepts a TCP connection on 127.0.0.1:``port`` within ``timeout`` seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def inbox_url(target_url: str, person: str) -> str:
    """The Apprise URL that pages ``person`` into the demo target's inbox (``vigil.demo.inbox``)."""
    parts = urlsplit(target_url)
    scheme = "jsons" if parts.scheme == "https" else "json"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/inbox/{person}"


def write_demo_runbook(directory: Path) -> Path:
    """Put the demo's runbook (package data) where the demo stack file names it: in ``directory``."""
    path = directory / DEMO_RUNBOOK
    path.write_bytes(resources.files("vigil.demo").joinpath(DEMO_RUNBOOK).read_bytes())
    return path


def _checked_url(url: str, name: str) -> str:
    # The URL also lands in a comment, where a line break would end the comment and inject YAML.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"{name} must be an http:// or https:// URL with a host, got {url!r}")
    return url


def _scalar(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar; ``$$`` keeps a literal ``$`` from being read
    # as a ${VAR} reference when the stack file is loaded.
    return json.dumps(text.replace("$", "$$"))
