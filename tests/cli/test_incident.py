"""``vigil incident`` as a responder runs it: real processes on a temp SQLite store. A change the
incident's state does not allow is one line on stderr and exit code 1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.store.database import open_database

VIGIL = [sys.executable, "-m", "vigil.cli"]
STACK = """
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
"""


def vigil(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    stack = tmp_path / "vigil.yaml"
    if not stack.exists():
        stack.write_text(STACK)
        # The store `vigil up` would have made: the shell never makes one.
        asyncio.run(_make_store(f"sqlite:///{tmp_path}/vigil.db"))
    return subprocess.run(
        [*VIGIL, "incident", *args, "-c", str(stack), "--db", f"sqlite:///{tmp_path}/vigil.db"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "USER": "ana"},
    )


async def _make_store(url: str) -> None:
    await (await open_database(url)).dispose()


def ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@pytest.mark.slow
def test_an_incident_opened_by_hand_is_walked_through_its_lifecycle_from_the_shell(tmp_path: Path) -> None:
    opened = json.loads(
        ok(vigil(tmp_path, "open", "Chat not responding", "--severity", "P2", "--service", "api", "--json"))
    )
    assert (opened["id"], opened["severity"], opened["labels"]) == (
        1,
        "P2",
        {"service": "api", "source": "manual"},
    )
    assert ok(vigil(tmp_path, "ack", "1")) == "incident 1 acknowledged by ana"
    assert ok(vigil(tmp_path, "assign", "1", "bob")) == "incident 1: assignee bob"
    assert ok(vigil(tmp_path, "assign", "1", "carol", "--commander")) == "incident 1: commander carol"
    assert ok(vigil(tmp_path, "severity", "1", "P1")) == "incident 1 is P1 now"
    assert ok(vigil(tmp_path, "check", "1", "2")).splitlines()[1] == "[x] 2. Assess impact and scope  (ana)"
    assert ok(vigil(tmp_path, "mitigate", "1", "--note", "rolled back")) == "incident 1 mitigated by ana"
    assert ok(vigil(tmp_path, "note", "1", "watching the error rate")) == "note added to incident 1"
    assert ok(vigil(tmp_path, "open", "Checkout slow")).startswith("incident 2 opened (P2)")
    assert ok(vigil(tmp_path, "merge", "2", "1")) == "incident 2 merged into 1"
    assert ok(vigil(tmp_path, "resolve", "1")) == "incident 1 resolved by ana"
    assert ok(vigil(tmp_path, "reopen", "1", "errors are back")) == "incident 1 reopened by ana"
    shown = ok(vigil(tmp_path, "show", "1"))
    assert shown.splitlines()[0] == "#1 [P1 triggered] Chat not responding"
    for line in (
        "assignee: bob",
        "commander: carol",
        "labels: service=api, source=manual",
        "merged here: #2",
    ):
        assert line in shown.splitlines()
    assert "severity P2 → P1 by ana" in shown
    assert "reopened by ana: errors are back" in shown


@pytest.mark.slow
def test_a_refused_change_is_one_line_and_exit_code_one(tmp_path: Path) -> None:
    ok(vigil(tmp_path, "open", "Chat not responding"))
    ok(vigil(tmp_path, "resolve", "1"))
    for args, message in (
        (("resolve", "1"), "incident 1 is already resolved"),
        (("ack", "1"), "incident 1 is resolved; only a triggered one can be acknowledged"),
        (("mitigate", "1"), "incident 1 is resolved; only an open incident can be mitigated"),
        (("severity", "1", "P7"), "unknown severity 'P7'; the scheme has P1, P2, P3, P4"),
        (("open", "x", "--severity", "SEV1"), "unknown severity 'SEV1'; the scheme has P1, P2, P3, P4"),
        (("ack", "9"), "no incident 9"),
    ):
        run = vigil(tmp_path, *args)
        assert (args, run.returncode, run.stderr.strip()) == (args, 1, message)
        assert "Traceback" not in run.stderr


def test_a_note_or_a_name_past_its_bound_is_refused_from_the_shell_too(tmp_path: Path) -> None:
    ok(vigil(tmp_path, "open", "Chat not responding"))
    for args, code, message in (
        (("note", "1", "x" * 10_001), 1, "a note can be at most 10,000 characters; this one has 10,001"),
        (("note", "1", "   "), 1, "a note needs some text"),
        (("resolve", "1", "--note", "x" * 10_001), 1, "a note can be at most 10,000"),
        (("ack", "1", "--as", "x" * 201), 2, "1 to 200 characters, not 201"),
    ):
        run = vigil(tmp_path, *args)
        assert (run.returncode, message in run.stderr, "Traceback" in run.stderr) == (code, True, False), args
    shown = json.loads(ok(vigil(tmp_path, "show", "1", "--json")))
    assert (shown["status"], [e["kind"] for e in shown["timeline"]].count("note")) == ("triggered", 0)
