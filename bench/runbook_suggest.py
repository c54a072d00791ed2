"""Ranking runbook suggestions for an incident over 10,000 sections: p50 and p99 per incident.

    python bench/runbook_suggest.py                        # 100 runbooks x 100 sections, 1,000 incidents
    python bench/runbook_suggest.py --files 200 --sections 50 --incidents 2000

Runbooks are generated into a temporary directory in the shape of real ones (issue sections with
symptoms, causes and ``bash`` blocks of ``psql``, ``redis-cli``, ``celery``, ``curl`` and PaaS
commands; prose sections with tables), read through the stack file as ``vigil up`` reads them,
and every incident is ranked afresh (``Suggestions.rank``: the per-incident cache bypassed).
Incidents mix check failures (``api-17.health failed 3 times in a row: status 502``) and alert
rules (``HighErrorRate firing (service=worker-4)``), and a tenth name a section by ``runbook:``.
The index is built before timing starts, as the server builds it once; its build time is printed.
Wall time is what a responder waits; the thread's CPU time is printed beside it, since on a
machine shared with other work the wall-clock p99 measures the scheduler as much as the ranking.
Target (issue 11): p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from vigil.config.load import parse_stack  # noqa: E402
from vigil.incidents.model import Incident  # noqa: E402
from vigil.incidents.severity import IncidentStatus, Severity  # noqa: E402
from vigil.runbooks.library import load_library  # noqa: E402
from vigil.runbooks.suggest import Suggestions  # noqa: E402

TARGET_P99_MS = 20.0
SERVICES = ["api", "worker", "frontend", "scheduler", "gateway", "ingest", "search", "billing"]
THINGS = ["database", "redis", "cache", "queue", "celery", "qdrant", "openai", "disk", "memory", "dns", "tls"]
SYMPTOMS = [
    "connection errors",
    "502 bad gateway",
    "503 service unavailable",
    "high error rate",
    "slow responses",
    "timeouts",
    "not processing tasks",
    "certificate expiring",
    "out of memory",
    "disk full",
    "too many connections",
    "rate limited",
]
COMMANDS = [
    'psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity"',
    "redis-cli -u $REDIS_URL info memory",
    "celery -A app inspect active",
    'curl -sS "$API_URL/health"',
    "railway logs --service {service}",
    "kubectl get pods -l app={service}",
    "df -h /var/lib/{thing}",
    "redis-cli -u $REDIS_URL llen celery",
]
PROSE = (
    "Check the dashboards first. The {thing} of {service} is the usual suspect when {symptom} start; "
    "look at recent deploys, then the logs, then the {thing} itself."
)
RULES = [
    "HighErrorRate",
    "SlowP95",
    "QueueBacklog",
    "DiskAlmostFull",
    "CertificateExpiry",
    "DatabaseConnections",
]


def runbook(rng: random.Random, number: int, sections: int) -> str:
    lines = [f"# Runbook {number} operations", ""]
    for n in range(sections - 1):
        service, thing, symptom = rng.choice(SERVICES), rng.choice(THINGS), rng.choice(SYMPTOMS)
        if n % 3 == 2:  # a prose section, as tables and contact lists are
            lines += [
                f"## {thing.title()} overview {n}",
                "",
                PROSE.format(thing=thing, service=service, symptom=symptom),
            ]
            lines += ["", "| Metric | Threshold |", "|---|---|", f"| {thing} usage | > 90% |", ""]
            continue
        lines += [
            f"### Issue: {service} {symptom} ({thing}) {n}",
            "",
            f"**Symptoms:** {symptom} on {service}",
            "",
        ]
        lines += [PROSE.format(thing=thing, service=service, symptom=symptom), "", "```bash"]
        for _ in range(rng.randint(1, 3)):
            lines.append(rng.choice(COMMANDS).format(service=service, thing=thing))
        lines += ["```", ""]
    return "\n".join(lines)


def incidents(rng: random.Random, count: int) -> list[tuple[Incident, str]]:
    now = datetime.now(UTC)
    made = []
    for n in range(count):
        service, symptom = f"{rng.choice(SERVICES)}-{rng.randint(1, 40)}", rng.choice(SYMPTOMS)
        if n % 2:
            rule = rng.choice(RULES)
            key, title, check = f"alert:{rule}:{n:032x}", f"{symptom} on {service}", None
            trigger = f"{rule} firing (service={service}, instance=10.0.{n % 250}.7:8000): value 0.{n % 97}"
            reason = f"{title} for 5m"
        else:
            check = f"{'api-1' if n % 10 == 0 else service}.{rng.choice(THINGS)}"
            key, title = f"check:{check}", f"{check} is failing"
            reason = rng.choice(
                [f"status {rng.choice([500, 502, 503])}, expected 200", "connection refused", symptom]
            )
            trigger = f"{check} failed 3 times in a row: {reason}"
        made.append(
            (
                Incident(
                    n + 1,
                    key,
                    title,
                    IncidentStatus.TRIGGERED,
                    Severity.P2,
                    service,
                    check,
                    reason,
                    [],
                    now,
                    now,
                ),
                trigger,
            )
        )
    return made


def stack_text() -> str:
    # A tenth of the checks name a section, as teams do for their known failure modes.
    checks = "\n".join(
        f"      {thing}: {{http: 'http://127.0.0.1:9/{thing}', runbook: 'runbook-{n}.md#runbook-{n}-operations'}}"
        for n, thing in enumerate(THINGS)
    )
    return f"runbooks: ['runbooks/*.md']\nservices:\n  api-1:\n    checks:\n{checks}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--sections", type=int, default=100, help="sections per runbook")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.incidents < 500:
        parser.error("--incidents must be at least 500 for a p99 worth reading")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "runbooks").mkdir()
        for n in range(args.files):
            (base / "runbooks" / f"runbook-{n}.md").write_text(runbook(rng, n, args.sections))
        stack = parse_stack(str(base / "vigil.yaml"), stack_text(), {})
        started = time.perf_counter()
        library = load_library(stack)
        read = time.perf_counter() - started
        suggestions = Suggestions(library, stack.model)
        started = time.perf_counter()
        suggestions.index.search("warm up", 1)
        built = time.perf_counter() - started
        cases = incidents(rng, args.incidents)
        timings, cpu, empty = [], [], 0
        for incident, trigger in cases:
            started, used = time.perf_counter(), time.thread_time()
            found = suggestions.rank(incident, trigger)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - used) * 1000)
            empty += not found
    sections = len(suggestions.index.sections)
    p50, p99 = statistics.median(timings), statistics.quantiles(timings, n=100)[98]
    cpu50, cpu99 = statistics.median(cpu), statistics.quantiles(cpu, n=100)[98]
    print(
        f"runbooks: {args.files} files, {sections:,} sections (read in {read:.2f} s, indexed in {built * 1000:.0f} ms)"
    )
    print(
        f"ranking for one incident over {len(timings):,} incidents: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(timings):.2f} ms"
    )
    print(
        f"  CPU time of the ranking thread (what other processes on the machine cannot inflate): "
        f"p50 {cpu50:.2f} ms, p99 {cpu99:.2f} ms"
    )
    print(f"incidents with no suggestion: {empty}")
    verdict = "meets" if p99 < TARGET_P99_MS else "MISSES"
    print(f"p99 / target: {p99 / TARGET_P99_MS:.2f} ({verdict} the {TARGET_P99_MS:g} ms target)")


if __name__ == "__main__":
    main()
