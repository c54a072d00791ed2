"""``vigil incident update`` and ``vigil incident postmortem`` as a user runs them: real processes
on a stack file and its SQLite store, the incident opened through the service beforehand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.notify.conftest import open_incident
from vigil.config.load import load_stack
from vigil.engine.clock import SystemClock
from vigil.incidents.service import IncidentService
from vigil.store import outbox
from vigil.store.database import open_database

VIGIL = [sys.executable, "-m", "vigil.cli"]
SECRET = "hunter2-very-secret"
STACK = """
store: {url: "sqlite:///DB"}
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook", headers: {X-Token: "${HOOK_TOKEN}"}}
  default: [hook]
services:
  api:
    checks:
      health: {tcp: "127.0.0.1:9", alert: {after: 1, severity: P1}}
"""


def vigil(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "USER": "ana", "HOOK_TOKEN": SECRET},
    )


async def stack_with_incident(tmp_path: Path) -> Path:
    (tmp_path / "ops").mkdir()
    file = tmp_path / "ops" / "vigil.yaml"
    file.write_text(STACK.replace("DB", str(tmp_path / "vigil.db")))
    stack = load_stack(file, {"HOOK_TOKEN": SECRET})
    engine = await open_database(stack.model.store.url)
    await open_incident(IncidentService(engine, stack.model, SystemClock()))
    await engine.dispose()
    return file


async def test_an_update_from_the_shell_is_queued_for_the_channels_in_the_runbooks_words(
    tmp_path: Path,
) -> None:
    file = await stack_with_incident(tmp_path)
    posted = vigil(
        "incident",
        "update",
        "1",
        f"Token {SECRET} rotated",
        "--status",
        "identified",
        "-c",
        str(file),
        cwd=tmp_path,
    )
    assert posted.returncode == 0, posted.stderr
    lines = posted.stdout.splitlines()
    assert lines[:2] == ["update 1 posted to incident 1:", "INCIDENT: [P1] Production API down"]
    assert "- Status: Identified" in lines and "- Assigned: unassigned" in lines
    assert SECRET not in posted.stdout and "Token *** rotated" in posted.stdout
    as_json = vigil(
        "incident", "update", "1", "Fixed", "--status", "resolved", "--json", "-c", str(file), cwd=tmp_path
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["status"] == "resolved"
    engine = await open_database(f"sqlite:///{tmp_path / 'vigil.db'}")
    events = [(r.event, r.channel) for r in await outbox.for_incident(engine, 1)]
    incident = await IncidentService(
        engine, load_stack(file, {"HOOK_TOKEN": SECRET}).model, SystemClock()
    ).get(1)
    await engine.dispose()
    assert events == [("triggered", "hook"), ("update", "hook"), ("update", "hook"), ("resolved", "hook")]
    assert (incident.status, incident.resolved_by) == ("resolved", "ana")


async def test_bad_updates_fail_with_one_line_and_an_exit_code(tmp_path: Path) -> None:
    file = await stack_with_incident(tmp_path)
    unknown = vigil("incident", "update", "9", "x", "--status", "identified", "-c", str(file), cwd=tmp_path)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "no incident 9")
    bad = vigil("incident", "update", "1", "x", "--status", "fixed", "-c", str(file), cwd=tmp_path)
    assert bad.returncode == 2 and "'fixed' is not one of" in bad.stderr and "Traceback" not in bad.stderr
    blank = vigil("incident", "update", "1", "  ", "--status", "identified", "-c", str(file), cwd=tmp_path)
    assert (blank.returncode, blank.stderr.strip()) == (1, "an update needs some text")


async def test_a_postmortem_is_written_beside_the_stack_file_and_never_overwritten_without_force(
    tmp_path: Path,
) -> None:
    file = await stack_with_incident(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    written = vigil("incident", "postmortem", "1", "-c", str(file), cwd=elsewhere)
    assert written.returncode == 0, written.stderr
    [path] = (tmp_path / "ops" / "docs" / "incidents").glob("*-production-api-down.md")
    assert written.stdout.strip() == f"postmortem of incident 1 written to {path}"
    assert path.read_text().startswith("# Postmortem: Production API down\n")
    path.write_text("# ours\n")
    again = vigil("incident", "postmortem", "1", "-c", str(file), cwd=elsewhere)
    assert (again.returncode, again.stderr.strip()) == (
        1,
        f"{path} exists; --force writes over it (what people wrote there is lost)",
    )
    assert path.read_text() == "# ours\n"
    assert vigil("incident", "postmortem", "1", "--force", "-c", str(file), cwd=elsewhere).returncode == 0
    printed = vigil("incident", "postmortem", "1", "-o", "-", "-c", str(file), cwd=elsewhere)
    assert (
        printed.stdout.startswith("# Postmortem: Production API down\n") and "## Root cause" in printed.stdout
    )
