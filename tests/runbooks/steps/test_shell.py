"""Shell steps as they run for real: streamed output, a whole process tree ended on timeout,
cwd, and the programs runbooks call (psql, redis-cli, a PaaS CLI)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import psutil
import pytest

from tests.runbooks.procedures import runner
from tests.runbooks.shared import TEXTBOOK, shared_runbook
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    """Whether the process has ended (a zombie waiting for init to reap it counts as ended)."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def test_output_reaches_the_sink_while_the_step_still_runs(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    run = runner(tmp_path, "# Ops\n## Slow\n```bash\necho first\nsleep 1\necho second >&2\n```\n")

    outcome = await run.run(RunRequest("Slow", "ana"), lambda _n, line: seen.append((line, time.monotonic())))
    finished = time.monotonic()

    assert [line for line, _ in seen] == ["first", "second"]  # stderr merged, in order
    assert finished - seen[0][1] > 0.8
    assert outcome.steps[0].output == "first\nsecond\n"
    assert outcome.steps[0].duration >= 1.0


async def test_a_timeout_ends_the_whole_process_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # A grandchild that ignores SIGTERM and would outlive the shell: only SIGKILL to the
    # group ends it.
    run = runner(
        tmp_path,
        f"""\
        # Ops
        ## Hang
        ```bash {{timeout=1s}}
        bash -c "trap '' TERM; sleep 300 & echo \\$! > {pids}; wait"
        ```
        """,
    )

    started = time.monotonic()
    outcome = await run.run(RunRequest("Hang", "ana"))

    step = outcome.steps[0]
    assert step.status is StepStatus.TIMED_OUT and outcome.exit is RunExit.FAILED
    assert step.reason == "timed out after 1s; its process group was ended"
    assert time.monotonic() - started < 10
    grandchild = int(pids.read_text())
    assert await asyncio.to_thread(gone_within, grandchild, 5.0)


async def test_a_step_runs_in_its_cwd_relative_to_the_stack_file(tmp_path: Path) -> None:
    (tmp_path / "backend").mkdir()
    run = runner(
        tmp_path, "# Ops\n## Where\n```sh {cwd=backend}\npwd\n```\n## Nowhere\n```sh {cwd=gone}\npwd\n```\n"
    )

    assert (await run.run(RunRequest("Where", "ana"))).steps[0].output == f"{tmp_path / 'backend'}\n"
    missing = await run.run(RunRequest("Nowhere", "ana"))
    assert missing.exit is RunExit.NOT_STARTED
    assert f"cwd=gone is not a directory (relative to {tmp_path})" in missing.steps[0].reason


async def test_psql_runs_against_the_local_postgresql_with_the_password_redacted(
    tmp_path: Path, postgres_url: str
) -> None:
    # The local server trusts 127.0.0.1, so the password is ignored there and only has to stay hidden.
    url = postgres_url.replace("postgres@", "postgres:pg-s3cret@")
    run = runner(
        tmp_path,
        """\
        # Ops
        ## Check database
        ```bash
        echo "using $DATABASE_URL"
        psql $DATABASE_URL -Atc 'SELECT 40 + 2'
        ```
        """,
        {"env": {"DATABASE_URL": "${DATABASE_URL}"}},
        environ={"DATABASE_URL": url},
    )

    outcome = await run.run(RunRequest("Check database", "ana"))

    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    shown = url.replace("pg-s3cret", "***")
    assert outcome.steps[0].output == f"using {shown}\n42\n"
    assert "pg-s3cret" not in outcome.steps[0].command


async def test_redis_cli_pings_the_local_redis(tmp_path: Path) -> None:
    run = runner(
        tmp_path,
        "# Ops\n## Check Redis\n```bash\nredis-cli -u $REDIS_URL ping\n```\n",
        {"env": {"REDIS_URL": "redis://127.0.0.1:6379/0"}},
    )

    outcome = await run.run(RunRequest("Check Redis", "ana"))

    assert (outcome.exit, outcome.steps[0].output) == (RunExit.OK, "PONG\n")


async def test_the_textbook_502_procedure_with_a_stand_in_railway(tmp_path: Path, postgres_url: str) -> None:
    # `railway` is a PaaS CLI that cannot run here (no account, no network): this script stands
    # in for it on PATH and answers as it would. psql is real, against the local PostgreSQL.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "railway").write_text('#!/bin/sh\necho "railway $*: ok"\n')
    (bin_dir / "railway").chmod(0o755)
    shutil.copy(shared_runbook(TEXTBOOK), tmp_path / "ops.md")
    run = runner(
        tmp_path,
        (tmp_path / "ops.md").read_text(),
        environ={"PATH": f"{bin_dir}:/usr/bin:/bin", "DATABASE_URL": postgres_url},
    )

    refused = await run.run(RunRequest("ops.md#issue-502-bad-gateway", "ana"))
    assert refused.exit is RunExit.NOT_STARTED
    assert refused.steps[0].destructive == ("restart",)

    outcome = await run.run(RunRequest("ops.md#issue-502-bad-gateway", "ana", confirmed=True))

    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    lines = outcome.steps[0].output.splitlines()
    assert lines[:2] == ["railway logs --service backend: ok", "railway restart --service backend: ok"]
    assert lines[2:5] == [" ?column? ", "----------", "        1"]


@pytest.mark.parametrize("missing", ["railway", "vercel"])
async def test_a_paas_cli_that_is_not_installed_fails_the_step_with_127(tmp_path: Path, missing: str) -> None:
    run = runner(
        tmp_path, f"# Ops\n## Status\n```bash\n{missing} status\n```\n", environ={"PATH": "/usr/bin:/bin"}
    )

    outcome = await run.run(RunRequest("Status", "ana"))

    assert (outcome.steps[0].status, outcome.steps[0].exit_code) == (StepStatus.FAILED, 127)
    assert f"{missing}: command not found" in outcome.steps[0].output


async def test_a_flood_of_output_keeps_the_last_64_kb_and_cuts_long_lines(tmp_path: Path) -> None:
    run = runner(
        tmp_path,
        "# Ops\n## Flood\n```bash\nseq 1 200000\nhead -c 10000 /dev/zero | tr '\\0' x\necho\necho done\n```\n",
    )
    count = 0

    def sink(_n: int, _line: str) -> None:
        nonlocal count
        count += 1

    outcome = await run.run(RunRequest("Flood", "ana"), sink)

    output = outcome.steps[0].output
    assert count == 200_000 + 2  # every line streamed, the 10,000 x's as one cut line
    assert len(output.encode()) <= 64 * 1024
    assert output.endswith("done\n") and "200000\n" in output
    assert "\n" + "x" * 4096 + " … [cut at 4,096 characters]\ndone\n" in output
