"""``vigil silence`` and ``vigil maintenance`` as a user runs them: real processes, a temp SQLite
store made as ``vigil up`` makes it (the shell's commands never make one)."""

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


async def _make(path: Path) -> None:
    await (await open_database(f"sqlite:///{path}")).dispose()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    asyncio.run(_make(tmp_path / "vigil.db"))
    return tmp_path / "vigil.db"


def vigil(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, *args, "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "USER": "ana"},
    )


def test_a_silence_is_added_listed_and_expired_from_the_shell(db: Path) -> None:
    added = vigil(
        "silence",
        "add",
        "service=api",
        "severity=~P[12]",
        "--for",
        "2h",
        "--comment",
        "deploy",
        "--json",
        db=db,
    )
    assert added.returncode == 0, added.stderr
    silence = json.loads(added.stdout)
    assert [f"{m['name']}{m['op']}{m['value']}" for m in silence["matchers"]] == [
        "service=api",
        "severity=~P[12]",
    ]
    assert (silence["state"], silence["created_by"], silence["comment"]) == ("active", "ana", "deploy")

    text = vigil("silence", "add", "service=db", "--for", "30m", "--comment", "vacuum", db=db)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("silence 2: service=db until ")
    assert text.stdout.rstrip().endswith("(vacuum)")

    listed = vigil("silence", "list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert "severity=~P[12]" in listed.stdout
    assert "vacuum" in listed.stdout

    expired = vigil("silence", "expire", str(silence["id"]), db=db)
    assert (expired.returncode, expired.stdout.strip()) == (0, f"silence {silence['id']} expired")
    remaining = json.loads(vigil("silence", "list", "--json", db=db).stdout)
    assert [s["id"] for s in remaining] == [2]
    everything = json.loads(vigil("silence", "list", "--all", "--json", db=db).stdout)
    assert [s["state"] for s in everything] == ["active", "expired"]


def test_a_bad_matcher_is_one_line_and_exit_code_2(db: Path) -> None:
    out = vigil("silence", "add", "severity=~P[12", "--comment", "x", db=db)
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert "severity=~P[12: not a regular expression" in line


def test_expiring_an_unknown_silence_says_so(db: Path) -> None:
    out = vigil("silence", "expire", "7", db=db)
    assert out.returncode == 1
    assert out.stderr.strip() == "no silence 7"


def test_a_silence_without_a_comment_is_refused(db: Path) -> None:
    out = vigil("silence", "add", "service=api", db=db)
    assert out.returncode == 2
    assert "needs a comment" in out.stderr
    assert "Traceback" not in out.stderr


def test_maintenance_is_started_listed_with_the_schedule_and_stopped(tmp_path: Path, db: Path) -> None:
    stack = tmp_path / "vigil.yaml"
    stack.write_text("maintenance:\n  windows:\n    - {name: weekly, cron: '0 2 * * SUN', duration: 2h}\n")
    started = vigil(
        "maintenance",
        "start",
        "db-upgrade",
        "--for",
        "1h",
        "--match",
        "service=db",
        "--comment",
        "v16",
        db=db,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("maintenance db-upgrade on until ")
    assert started.stdout.rstrip().endswith("for service=db")

    listed = json.loads(vigil("maintenance", "list", "--json", "-c", str(stack), db=db).stdout)
    # Order-free: on a Sunday between 02:00 and 04:00 UTC the weekly window is active too.
    assert {w["name"]: (w["source"], w["schedule"]) for w in listed} == {
        "db-upgrade": ("manual", None),
        "weekly": ("schedule", "0 2 * * SUN UTC"),
    }
    assert next(w for w in listed if w["name"] == "db-upgrade")["active"]

    assert vigil("maintenance", "start", "db-upgrade", db=db).returncode == 1  # already on: a conflict
    stopped = vigil("maintenance", "stop", "db-upgrade", db=db)
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "maintenance db-upgrade stopped")
    assert json.loads(vigil("maintenance", "list", "--json", db=db).stdout) == []
