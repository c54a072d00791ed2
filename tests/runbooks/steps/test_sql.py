"""``sql`` steps against the local PostgreSQL and MariaDB: answers as tables, the database the
step names, failures that stop the step, and a timeout that cancels the statement."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from tests.runbooks.procedures import runner
from tests.runbooks.shared import ECHO, shared_runbook
from vigil.config.databases import Database
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.runbooks.steps.sql import target

MARIADB = "mysql://root@127.0.0.1:3306/test"


def sql_runbook(sql: str, attributes: str = "") -> str:
    return f"# Ops\n## Query\n```sql {attributes}\n{sql}\n```\n"


async def test_statements_answer_as_tables_on_the_local_postgresql(tmp_path: Path, postgres_url: str) -> None:
    run = runner(
        tmp_path,
        sql_runbook(
            "-- a table to look at\nCREATE TABLE jobs (id int, state text);\n"
            "INSERT INTO jobs VALUES (1, 'queued'), (2, NULL);\n"
            "SELECT id, state AS job_state FROM jobs ORDER BY id;"
        ),
        {"env": {"DATABASE_URL": postgres_url}},
    )

    outcome = await run.run(RunRequest("Query", "ana"))

    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    assert outcome.steps[0].output.splitlines() == [
        "=> CREATE TABLE jobs (id int, state text);",
        "CREATE TABLE",
        "=> INSERT INTO jobs VALUES (1, 'queued'), (2, NULL);",
        "INSERT 0 2",
        "=> SELECT id, state AS job_state FROM jobs ORDER BY id;",
        "id | job_state",
        "---+----------",
        "1  | queued",
        "2  |",
        "(2 rows)",
    ]
    assert outcome.steps[0].command.startswith("-- on DATABASE_URL (postgresql://postgres@127.0.0.1:5432/")


async def test_a_long_answer_is_cut_at_200_rows(tmp_path: Path, postgres_url: str) -> None:
    run = runner(
        tmp_path,
        sql_runbook("SELECT n FROM generate_series(1, 100000) AS n;"),
        {"env": {"DATABASE_URL": postgres_url}},
    )

    output = (await run.run(RunRequest("Query", "ana"))).steps[0].output.splitlines()

    assert output[-1] == "(first 200 rows shown)"
    assert output[-2] == "200" and len(output) == 1 + 2 + 200 + 1


async def test_the_echo_runbooks_database_health_block_stops_at_its_failing_statement(
    tmp_path: Path, postgres_url: str
) -> None:
    shutil.copy(shared_runbook(ECHO), tmp_path / "ops.md")
    run = runner(tmp_path, (tmp_path / "ops.md").read_text(), {"env": {"DATABASE_URL": postgres_url}})

    outcome = await run.run(RunRequest("ops.md#key-metrics-to-monitor", "ana", step=3))

    step = outcome.steps[0]
    lines = step.output.splitlines()
    # Real answers: no connection to a database of that name here, and no long-running query.
    assert lines[:4] == [
        "=> SELECT count(*) FROM pg_stat_activity WHERE datname = 'ai_visibility_db';",
        "count",
        "-----",
        "0",
    ]
    assert "(0 rows)" in lines
    assert step.status is StepStatus.FAILED and outcome.exit is RunExit.FAILED
    assert step.reason == 'statement 3 failed: database "ai_visibility_db" does not exist'


async def test_a_timeout_cancels_the_statement_on_the_server(tmp_path: Path, postgres_url: str) -> None:
    run = runner(
        tmp_path,
        sql_runbook("SELECT pg_sleep(60) AS vigil_timeout_probe;", "{timeout=1s}"),
        {"env": {"DATABASE_URL": postgres_url}},
    )

    outcome = await run.run(RunRequest("Query", "ana"))

    assert outcome.steps[0].status is StepStatus.TIMED_OUT
    conn = await asyncpg.connect(postgres_url)
    try:
        for _ in range(50):
            active = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%vigil_timeout_probe%' AND pid <> pg_backend_pid()"
            )
            if active == 0:
                break
            await asyncio.sleep(0.1)
        assert active == 0
    finally:
        await conn.close()


async def test_statements_run_on_the_local_mariadb(tmp_path: Path) -> None:
    run = runner(
        tmp_path,
        sql_runbook("SELECT 1 + 1 AS two, 'x' AS letter;\nDO 1;", "{db=shop}"),
        {"services": {"shop": {"checks": {"db": {"mysql": MARIADB}}}}},
    )

    outcome = await run.run(RunRequest("Query", "ana"))

    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    assert outcome.steps[0].output.splitlines() == [
        "=> SELECT 1 + 1 AS two, 'x' AS letter;",
        "two | letter",
        "----+-------",
        "2   | x",
        "(1 row)",
        "=> DO 1;",
        "OK, 0 rows affected",
    ]


async def test_a_refused_connection_fails_the_step_with_the_password_hidden(tmp_path: Path) -> None:
    run = runner(
        tmp_path,
        sql_runbook("SELECT 1;"),
        {"env": {"DATABASE_URL": "postgresql://app:very-secret@127.0.0.1:9/app"}},
    )

    step = (await run.run(RunRequest("Query", "ana"))).steps[0]

    assert step.status is StepStatus.FAILED
    assert "127.0.0.1:9" in step.reason and "very-secret" not in step.reason + step.command


async def test_a_destructive_statement_needs_confirmation(tmp_path: Path, postgres_url: str) -> None:
    run = runner(tmp_path, sql_runbook("DELETE FROM sessions;"), {"env": {"DATABASE_URL": postgres_url}})

    outcome = await run.run(RunRequest("Query", "ana"))

    assert outcome.exit is RunExit.NOT_STARTED
    assert outcome.steps[0].destructive == ("DELETE without WHERE",)


@pytest.mark.parametrize(
    ("attributes", "env", "expected"),
    [
        ("", {}, "name the database with db=… on the fence; choices: api.primary, api.replica, shop.db"),
        ("", {"DATABASE_URL": "postgresql://h/env"}, Database("DATABASE_URL", "postgresql://h/env")),
        ("{db=shop}", {}, Database("shop.db", "mysql://root@h/shop")),
        ("{db=api.replica}", {}, Database("api.replica", "postgresql://h/replica")),
        (
            "{db=api}",
            {},
            "service api has several databases (api.primary, api.replica); name one with db=service.check",
        ),
        (
            "{db=REPORTS_URL}",
            {"REPORTS_URL": "postgresql://h/reports"},
            Database("REPORTS_URL", "postgresql://h/reports"),
        ),
        (
            "{db=nope}",
            {},
            "db=nope names no database check, service or env: variable; choices: api.primary, api.replica, shop.db",
        ),
    ],
)
def test_which_database_a_step_runs_against(
    tmp_path: Path, attributes: str, env: dict[str, str], expected: Database | str
) -> None:
    services = {
        "api": {
            "checks": {
                "primary": {"postgres": "postgresql://h/primary"},
                "replica": {"postgres": "postgresql://h/replica"},
            }
        },
        "shop": {"checks": {"db": {"mysql": "mysql://root@h/shop"}}},
    }
    run = runner(tmp_path, sql_runbook("SELECT 1;", attributes), {"services": services}, environ=env)
    section = run.library.procedure("Query")
    plan = run.plan(section, RunRequest("Query", "ana"))[0]

    assert target(plan.step, plan.setting) == expected


async def test_without_any_database_the_step_says_how_to_name_one(tmp_path: Path) -> None:
    outcome = await runner(tmp_path, sql_runbook("SELECT 1;")).run(RunRequest("Query", "ana"))
    assert outcome.exit is RunExit.NOT_STARTED
    assert outcome.steps[0].reason == (
        "step 1: set DATABASE_URL (stack file env: or the environment) or add a postgres or mysql check"
    )
