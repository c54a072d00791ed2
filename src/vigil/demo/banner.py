"""What ``vigil demo`` prints once it is ready: where everything is, and what to try first."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from vigil.demo.stack import BACKUP_EVERY, DEMO_BACKUPS


@dataclass(frozen=True)
class DemoPlaces:
    target_url: str
    stack_file: Path
    runbook: Path
    dashboard: str  # http://127.0.0.1:8484
    login_code: str
    token: str
    command: str = "vigil"  # how this ``vigil`` is run from here (``vigil_command``)


def vigil_command(argv0: str | None = None) -> str:
    """``vigil`` when that is the command on the PATH, else the path it was run by
    (``.venv/bin/vigil`` under ``make demo``), so that the lines printed work when pasted."""
    ran = Path(argv0 if argv0 is not None else sys.argv[0])
    found = shutil.which("vigil")
    if ran.name == "vigil" and (found is None or Path(found).resolve() != ran.resolve()):
        return str(ran)
    return "vigil"


def banner(places: DemoPlaces) -> str:
    target, dashboard, vigil = places.target_url, places.dashboard, places.command
    chaos = f"curl -X POST {target}/chaos -H 'Content-Type: application/json' -d"
    config = f"-c {places.stack_file}"
    return f"""
Vigil demo
  target app   {target}   (/health, /health/ready, /metrics)
  inbox        {target}/inbox   (what the on-call people alice, bob and carol received)
  stack file   {places.stack_file}
  runbook      {places.runbook}   (its procedures are suggested on the incidents)
  dashboard    {dashboard}/login/link?code={places.login_code}
               (opens the dashboard signed in as a responder; the link works once, for an hour)
  API token    {places.token}   (a responder token, for the API and for signing in again)
  backups      {places.stack_file.parent / DEMO_BACKUPS}   (the demo's own store, every {BACKUP_EVERY} minutes,
               verified by a restore; {dashboard}/backups)

Try it:
  1. Break the target:
       {chaos} '{{"mode": "fail"}}'
     → within a few seconds the check fails, an incident opens, the log channel is paged and
       so is whoever is on call: their page arrives in the inbox, {target}/inbox
  2. Open the incident from the dashboard's overview ({dashboard}/): its escalation shows the
     step it is at and when the next page goes. Nobody acknowledges → a minute later the
     secondary is paged, a minute after that carol, the team lead.
  3. Click Acknowledge on a page in the inbox: the incident is acknowledged for that person
     and the escalation stops.
  4. Say what is going on, then mend the target; the incident resolves:
       {vigil} incident update ID --status identified "Fault injected through /chaos" {config}
       {chaos} '{{"mode": "recover"}}'
  5. Draft its postmortem: {vigil} incident postmortem ID -o - {config}
  Other modes: slow (with "latency_ms"), db_down, cache_down.   Ctrl-C stops everything.
  Also: worker_down stops the worker's heartbeat pings (the check fails after 20s);
        vendor_outage turns the vendor's status page ({target}/vendor) to a major outage.
"""
