"""``vigil runbook`` as a user runs it: real processes, the shared runbooks, the local PostgreSQL."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from tests.cli.test_check import VIGIL
from tests.cli.test_check import vigil as run_vigil
from tests.runbooks.shared import TEXTBOOK, shared_runbook

# The textbook's "Kill idle connections" line runs too (the step is one block). As a role that
# is not a superuser it sees the state of its own sessions only, so it can end no one else's
# idle connection on this shared server: the step runs as written and harms nothing.
READER = "vigil_runbook_reader"
OPS = """\
# Ops

## Check the API

```bash
echo "api is up"
```

## Flush the cache

```bash
echo "flushall sent" > flushed.txt
```

## Deploy

```bash
echo "deploying <commit> to $DEPLOY_TARGET"
```
"""


def vigil(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``vigil runbook ARGS -c DIR/vigil.yaml``."""
    return run_vigil("runbook", *args, "-c", str(cwd / "vigil.yaml"), env=env)


def stack(tmp_path: Path, runbook: str = OPS, **extra: object) -> Path:
    (tmp_path / "ops.md").write_text(runbook)
    (tmp_path / "vigil.yaml").write_text(
        yaml.safe_dump({"runbooks": ["*.md"], "store": {"url": f"sqlite:///{tmp_path}/state.db"}, **extra})
    )
    return tmp_path


def test_list_json_names_each_procedure(tmp_path: Path) -> None:
    listed = vigil("list", "--json", cwd=stack(tmp_path))

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["title"], r["steps"], r["runnable"], r["destructive"]) for r in rows] == [
        ("ops.md#check-the-api", "Check the API", 1, 1, False),
        ("ops.md#flush-the-cache", "Flush the cache", 1, 1, True),
        ("ops.md#deploy", "Deploy", 1, 1, False),
    ]
    assert rows[1]["confirm_steps"] == [1]


def test_run_streams_output_and_exits_0(tmp_path: Path) -> None:
    ran = vigil("run", "check the api", cwd=stack(tmp_path))

    assert (ran.returncode, ran.stdout) == (0, "api is up\n")
    assert "step 1: succeeded, exit 0 in " in ran.stderr


def test_an_unknown_procedure_exits_2_listing_the_closest(tmp_path: Path) -> None:
    ran = vigil("run", "flush cache now please", cwd=stack(tmp_path))

    assert ran.returncode == 2
    assert "closest: ops.md#" in ran.stderr and "Traceback" not in ran.stderr


def test_a_destructive_step_is_refused_without_yes_and_runs_with_it(tmp_path: Path) -> None:
    folder = stack(tmp_path)

    refused = vigil("run", "ops.md#flush-the-cache", cwd=folder)
    assert refused.returncode == 2
    assert "step 1 needs confirmation: flushdb/flushall; run with --yes" in refused.stderr
    assert not (folder / "flushed.txt").exists()

    confirmed = vigil("run", "ops.md#flush-the-cache", "--yes", cwd=folder)
    assert confirmed.returncode == 0, confirmed.stderr
    assert (folder / "flushed.txt").read_text() == "flushall sent\n"


def test_on_a_terminal_a_destructive_step_asks_first(tmp_path: Path) -> None:
    folder = stack(tmp_path)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*VIGIL, "runbook", "run", "ops.md#flush-the-cache", "-c", str(folder / "vigil.yaml")],
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while b"Run it?" not in seen and time.monotonic() < deadline:
        if select.select([leader], [], [], 0.5)[0]:
            try:
                seen += os.read(leader, 4096)
            except OSError:  # the command ended: nothing more to read
                break
    assert b"Run it?" in seen, seen.decode(errors="replace")
    os.write(leader, b"y\n")
    assert process.wait(timeout=30) == 0
    os.close(leader)
    assert b"step 1 needs confirmation: flushdb/flushall" in seen
    assert (folder / "flushed.txt").read_text() == "flushall sent\n"


def test_missing_variable_and_placeholder_are_named_and_nothing_runs(tmp_path: Path) -> None:
    folder = stack(tmp_path)

    missing = vigil("run", "Deploy", cwd=folder)
    assert missing.returncode == 2
    assert (
        "step 1: set DEPLOY_TARGET (stack file env: or the environment); give --param commit=…"
        in missing.stderr
    )

    given = vigil("run", "Deploy", "--param", "commit=abc123", cwd=folder, env={"DEPLOY_TARGET": "prod"})
    assert (given.returncode, given.stdout) == (0, "deploying abc123 to prod\n")

    unsafe = vigil("run", "Deploy", "--param", "commit=a;reboot", cwd=folder, env={"DEPLOY_TARGET": "prod"})
    assert unsafe.returncode == 2 and "may hold only letters" in unsafe.stderr


def test_a_dry_run_prints_the_resolved_step_with_the_password_hidden(tmp_path: Path) -> None:
    folder = stack(
        tmp_path,
        "# Ops\n## Check\n```bash\npsql $DATABASE_URL -c 'SELECT 1'\n```\n",
        env={"DATABASE_URL": "${DATABASE_URL}"},
    )

    dry = vigil(
        "run", "Check", "--dry-run", cwd=folder, env={"DATABASE_URL": "postgresql://app:hunter2x@db:5432/app"}
    )

    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == "step 1: planned\n    psql postgresql://app:***@db:5432/app -c 'SELECT 1'\n"


def test_the_textbook_database_diagnosis_prints_a_real_count(tmp_path: Path) -> None:
    shutil.copy(shared_runbook(TEXTBOOK), tmp_path / "production.md")
    (tmp_path / "vigil.yaml").write_text(
        yaml.safe_dump(
            {
                "runbooks": ["production.md"],
                "store": {"url": f"sqlite:///{tmp_path}/state.db"},
                "env": {"DATABASE_URL": f"postgresql://{READER}@127.0.0.1:5432/test"},
            }
        )
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qAtc",
            f"DO $$ BEGIN CREATE ROLE {READER} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        ],
        check=True,
        capture_output=True,
    )

    ran = vigil("run", "production.md#issue-database-connection-errors", "--step", "1", "--yes", cwd=tmp_path)

    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[:2] == [" count ", "-------"]
    assert int(lines[2]) >= 1  # at least the psql session asking
    assert " pg_terminate_backend " in lines


def test_show_json_says_what_is_missing_and_destructive(tmp_path: Path) -> None:
    shown = vigil("show", "ops.md#deploy", "--json", cwd=stack(tmp_path))

    assert shown.returncode == 0, shown.stderr
    step = json.loads(shown.stdout)["steps"][0]
    assert step["missing"] == [
        "set DEPLOY_TARGET (stack file env: or the environment)",
        "give --param commit=…",
    ]
    assert step["confirm"] == [] and step["code"] == 'echo "deploying <commit> to $DEPLOY_TARGET"\n'


def test_a_step_out_of_range_is_one_line(tmp_path: Path) -> None:
    ran = vigil("run", "Deploy", "--step", "9", cwd=stack(tmp_path))
    assert ran.returncode == 2
    assert ran.stderr.strip() == "ops.md#deploy has steps 1 to 1; there is no step 9"
