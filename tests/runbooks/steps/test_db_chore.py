"""``vigil-db`` steps: a runbook names a database chore, run against a database of the test's
own on the local PostgreSQL; the chores that change the database wait for confirmation."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.maintenance.chores.conftest import idle_sessions, pg_url  # noqa: F401  (a fixture)
from tests.runbooks.procedures import runner
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.runbooks.steps.db_chore import read


def chore_runbook(code: str) -> str:
    return f"# Ops\n## Chore\n```vigil-db {{db=shop.db}}\n{code}\n```\n"


def stack(url: str) -> dict[str, object]:
    return {"services": {"shop": {"checks": {"db": {"postgres": url}}}}}


async def test_sizes_print_the_largest_tables(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    outcome = await runner(tmp_path, chore_runbook("sizes --limit 1"), stack(pg_url)).run(
        RunRequest("Chore", "ana")
    )
    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    output = outcome.steps[0].output
    assert (
        "tables:" in output
        and "orders" in output
        and "unused_indexes:" in output
        and "orders_by_note" in output
    )
    assert outcome.steps[0].command.startswith("on shop.db (postgresql://postgres@127.0.0.1:5432/")


async def test_kill_idle_waits_for_confirmation_then_ends_the_sessions(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vigil.audit")
    run = runner(tmp_path, chore_runbook("kill-idle --older-than 1s"), stack(pg_url))
    with idle_sessions(pg_url, 2) as others:
        await asyncio.sleep(1.2)
        refused = await run.run(RunRequest("Chore", "ana"))
        assert refused.exit is not RunExit.OK and refused.steps[0].status is not StepStatus.SUCCEEDED
        done = await run.run(RunRequest("Chore", "ana", confirmed=True))
        assert done.exit is RunExit.OK, done.steps[0].output
        assert all(str(pid) in done.steps[0].output for pid in others)
    # The refused run ended nothing and is not audited; the confirmed one is, with its runner's name.
    [audited] = [r.getMessage() for r in caplog.records if r.name == "vigil.audit"]
    assert audited.startswith("ana ended 2 idle session(s) on shop.db")


async def test_a_vacuum_step_is_audited_even_when_it_fails(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vigil.audit")
    outcome = await runner(tmp_path, chore_runbook("vacuum orders nosuch"), stack(pg_url)).run(
        RunRequest("Chore", "ana", confirmed=True)
    )
    assert outcome.steps[0].status is StepStatus.FAILED
    [audited] = [r.getMessage() for r in caplog.records if r.name == "vigil.audit"]
    assert audited.startswith("ana's vacuum of orders, nosuch on shop.db (postgresql://")
    assert "failed: " in audited and "nosuch" in audited


def test_a_step_that_names_no_chore_says_which_there_are() -> None:
    assert read("reindex everything") == "write one chore: vacuum, sizes, kill-idle, long-queries"
    assert (
        read("sizes --force")
        == "--force is no option of a chore step; options: --limit, --longer-than, --older-than, --timeout, --no-analyze"
    )
    assert read("db vacuum orders --no-analyze") == ("vacuum", {"--no-analyze": ""}, ["orders"])
