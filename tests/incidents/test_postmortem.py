"""The postmortem of a realistic incident: a P1 on the API, acknowledged, worked with a runbook,
updated four times and resolved; its sections and figures as a person would write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import open_incident
from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.errors import ConflictError
from vigil.incidents.model import EventKind, span
from vigil.incidents.postmortem import default_path, draft, write
from vigil.incidents.service import IncidentService
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import StatusUpdates
from vigil.notify.message_template import TemplateFault
from vigil.probes.base import Result
from vigil.store.results import ResultStore
from vigil.store.runbook_runs import RunbookRuns
from vigil.store.tables import IncidentEventRow

STACK = """
notify:
  channels: {hook: {webhook: "http://127.0.0.1:9/hook"}}
  default: [hook]
server: {public_url: "https://vigil.example.com"}
POSTMORTEM
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 3, severity: P1}}
      ready: {http: "http://127.0.0.1:9/health/ready"}
"""
START = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
SECTIONS = [
    "## Summary",
    "## Impact",
    "## Response",
    "## Timeline (UTC)",
    "## Status updates",
    "## Alerts and checks involved",
    "## Runbook steps run",
    "## Root cause",
    "## What went well, what went badly",
    "## Action items",
    "## Lessons learned",
]


def stack_at(tmp_path: Path, postmortem: str = "") -> Stack:
    file = tmp_path / "vigil.yaml"
    file.write_text(STACK.replace("POSTMORTEM", postmortem))
    return parse_stack(str(file), file.read_text(), {})


async def realistic_incident(engine: AsyncEngine, stack: Stack, *, ack_after: float = 240) -> int:
    """Opened 10:30 by api.health; acknowledged by john; investigated, a runbook run, identified,
    monitored, resolved at 11:12 by a resolved update."""
    clock = FakeClock(START)
    incidents = IncidentService(engine, stack.model, clock, dashboard_url="https://vigil.example.com")
    updates = StatusUpdates(incidents)
    failures = [
        Result("api.health", False, 10.0, START + timedelta(seconds=30 * n), "status 503, expected 200")
        for n in range(12)
    ]
    failures += [
        Result("api.health", False, 10_000.0, START + timedelta(minutes=39 + n), "timed out after 10s")
        for n in range(2)
    ]
    failures += [Result("api.health", True, 8.0, START + timedelta(minutes=41), None)]
    await ResultStore(engine).add_many(failures)
    incident = await open_incident(incidents)
    await incidents.add_symptom(
        incident.id, "api.ready fails too (status 503, expected 200); it depends on api"
    )
    await clock.advance(ack_after)
    await incidents.acknowledge(incident.id, "john")
    await clock.advance(60)
    await updates.post(
        incident.id,
        UpdateStatus.INVESTIGATING,
        "Every request to /api answers 503; looking at the database",
        "john",
        impact="All users unable to create experiments",
    )
    await clock.advance(360)
    runs = RunbookRuns(engine)
    run = await runs.start(
        "runbooks/api.md#restart-the-api", "Restart the API", "john", incident.id, clock.now()
    )
    steps = [
        {
            "number": 1,
            "name": "Check the database",
            "status": "ok",
            "command": "psql $DATABASE_URL -c 'SELECT 1'",
            "exit_code": 0,
            "duration": 0.4,
        },
        {
            "number": 2,
            "name": "Restart the backend",
            "status": "ok",
            "command": "railway restart --service backend",
            "exit_code": 0,
            "duration": 12.1,
        },
    ]
    await runs.finish(run, steps, 0, clock.now())
    await incidents.record_runbook_step(
        incident.id, "john", "ran Restart the API, step 2: railway restart --service backend (exit 0)"
    )
    await clock.advance(240)
    await updates.post(
        incident.id, UpdateStatus.IDENTIFIED, "Connection pool exhausted since deploy v1.4.3", "john"
    )
    await clock.advance(600)
    await updates.post(
        incident.id, UpdateStatus.MONITORING, "Rolled back to v1.4.2; errors back to 0.1%", "john"
    )
    await clock.advance(2520 - ack_after - 60 - 360 - 240 - 600)
    await updates.post(incident.id, UpdateStatus.RESOLVED, "Stable for 15 minutes", "john")
    return incident.id


async def test_the_postmortem_of_a_realistic_incident_has_its_sections_and_figures(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    stack = stack_at(tmp_path)
    incident_id = await realistic_incident(engine, stack)
    clock = FakeClock(START + timedelta(hours=2))
    service = IncidentService(engine, stack.model, clock, dashboard_url="https://vigil.example.com")
    postmortem = await draft(stack, service, incident_id)
    text = postmortem.markdown
    sections = [line for line in text.splitlines() if line.startswith("#")]
    assert sections == ["# Postmortem: Production API down", *SECTIONS]
    assert (
        "api.health failed (status 503, expected 200) from 10:30 UTC on Thursday 15 January 2026 until "
        "11:12 UTC, 42 minutes in all. john acknowledged it after 4 minutes, within the P1 target of "
        "15 minutes. john resolved it after 42 minutes, within the P1 target of 4 hours."
    ) in text
    assert "| Date | Thursday 15 January 2026 |" in text
    assert "- **Window:** 2026-01-15 10:30 → 11:12 UTC (42 minutes)" in text
    assert "- **Impact as stated during the incident:** All users unable to create experiments" in text
    assert "| Time to acknowledge | 4m | 15m | met |" in text
    assert "| Time to resolve | 42m | 4h 00m | met |" in text
    assert (
        "| 10:30 | triggered | vigil | api.health failed 3 times in a row: status 503, expected 200 |" in text
    )
    assert "| 10:34 | acknowledged | john | acknowledged by john |" in text
    assert "| 11:12 | resolved | john | resolved by john |" in text
    assert "sent to hook" not in text  # deliveries are not the story
    assert (
        "- **10:35 — Investigating** (john): Every request to /api answers 503; looking at the database"
        in text
    )
    assert "- **11:12 — Resolved** (john): Stable for 15 minutes" in text
    assert (
        "- `api.health` (http): failed 14 times between 10:30 and 11:10"
        " — status 503, expected 200 (12 times); timed out after 10s (2 times)"
    ) in text
    assert "- `api.ready` (http): no failed result recorded in the window" in text
    assert "- 10:41 john ran **Restart the API** (`runbooks/api.md#restart-the-api`): exit 0" in text
    assert "  2. Restart the backend: `railway restart --service backend` — ok, exit 0, 12.1s" in text
    assert "| Action | Type | Owner | Due | Ticket |" in text
    assert f"| Incident | [#{incident_id}](https://vigil.example.com/incidents/{incident_id}) |" in text


async def test_a_late_acknowledgement_is_shown_as_a_missed_target(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    stack = stack_at(tmp_path)
    incident_id = await realistic_incident(engine, stack, ack_after=1200)
    text = (await draft(stack, IncidentService(engine, stack.model, FakeClock()), incident_id)).markdown
    assert "| Time to acknowledge | 20m | 15m | missed by 5m |" in text
    assert "john acknowledged it after 20 minutes, 5 minutes past the P1 target of 15 minutes." in text


async def test_the_default_path_is_dated_and_named_after_the_title_and_a_draft_never_overwrites(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    stack = stack_at(tmp_path)
    incident_id = await realistic_incident(engine, stack)
    postmortem = await draft(stack, IncidentService(engine, stack.model, FakeClock()), incident_id)
    path = default_path(stack, postmortem.incident)
    assert path == tmp_path / "docs/incidents/2026-01-15-production-api-down.md"
    write(path, postmortem)
    path.write_text("# Our own words\n")
    with pytest.raises(ConflictError, match="exists; --force writes over it"):
        write(path, postmortem)
    assert path.read_text() == "# Our own words\n"
    write(path, postmortem, force=True)
    assert path.read_text().startswith("# Postmortem: Production API down\n")


async def test_the_teams_template_and_folder_replace_vigils(engine: AsyncEngine, tmp_path: Path) -> None:
    (tmp_path / "pm.md.j2").write_text(
        "# {{ incident.title }} ({{ window.took }})\n{% for u in updates %}* {{ u.status }}: {{ u.text }}\n{% endfor %}"
    )
    stack = stack_at(tmp_path, "postmortem: {template: pm.md.j2, folder: reviews}")
    incident_id = await realistic_incident(engine, stack)
    postmortem = await draft(stack, IncidentService(engine, stack.model, FakeClock()), incident_id)
    assert postmortem.markdown.splitlines()[:3] == [
        "# Production API down (42m)",
        "* investigating: Every request to /api answers 503; looking at the database",
        "* identified: Connection pool exhausted since deploy v1.4.3",
    ]
    assert default_path(stack, postmortem.incident).parent == tmp_path / "reviews"


async def test_a_broken_or_missing_template_is_one_clear_error(engine: AsyncEngine, tmp_path: Path) -> None:
    stack = stack_at(tmp_path, "postmortem: {template: missing.j2}")
    incident_id = await realistic_incident(engine, stack)
    with pytest.raises(TemplateFault, match=r"postmortem template: cannot read .*missing.j2: No such file"):
        await draft(stack, IncidentService(engine, stack.model, FakeClock()), incident_id)
    (tmp_path / "bad.j2").write_text("{{ incident.__class__.__mro__ }}")
    stack = stack_at(tmp_path, "postmortem: {template: bad.j2}")
    with pytest.raises(TemplateFault, match="postmortem template"):
        await draft(stack, IncidentService(engine, stack.model, FakeClock()), incident_id)


@pytest.mark.parametrize(
    ("seconds", "shown"), [(45, "45s"), (240, "4m"), (2520, "42m"), (3900, "1h 05m"), (183_600, "2d 3h")]
)
def test_durations_read_as_people_write_them(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


async def test_an_escalated_incident_nobody_wrote_about_says_who_was_paged_and_what_to_fill_in(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    stack = stack_at(tmp_path)
    clock = FakeClock(START)
    incidents = IncidentService(engine, stack.model, clock)
    incident = await open_incident(incidents)
    pages = [
        (0, "paged alice (schedule primary) via json://… (step 1 of 2, round 1 of 1, policy default)"),
        (60, "paged bob (schedule secondary) via json://… (step 2 of 2, round 1 of 1, policy default)"),
    ]
    async with engine.begin() as conn:
        for seconds, text in pages:
            row = incidents.event_row(
                incident.id, EventKind.ESCALATED, text, START + timedelta(seconds=seconds)
            )
            await conn.execute(insert(IncidentEventRow).values(**row))
    await clock.advance(75)
    await incidents.acknowledge(incident.id, "bob")
    await clock.advance(120)
    await incidents.resolve(incident.id, "vigil")

    text = (await draft(stack, incidents, incident.id)).markdown

    assert (
        "alice (schedule primary) was paged first; nobody answered, so the escalation went on to bob "
        "(schedule secondary), and bob acknowledged it after 1 minute, within the P1 target of 15 minutes. "
        "Vigil resolved it when api.health passed again."
    ) in text
    assert (
        "Paged by escalation policy `default`, in order:\n- 10:30 **alice** (schedule primary), step 1\n"
        in text
    )
    assert "- 10:31 **bob** (schedule secondary), step 2\n" in text
    assert "| 10:31 | escalated | vigil | paged bob (schedule secondary), step 2 of 2 |" in text
    assert "json://" not in text
    assert "**Impact as stated during the incident:** _none was stated; say what users saw" in text
    assert "## Status updates\n\n- _None was posted from Vigil. If people were told elsewhere" in text
    assert "- _No runbook procedure was run from Vigil. List what was done by hand" in text
