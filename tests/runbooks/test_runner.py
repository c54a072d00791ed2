"""The procedure runner over real shell steps: order, stopping, refusing before anything runs,
dry runs, and what a run leaves in the store and on the incident's timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.runbooks.procedures import runner
from vigil.errors import IncidentNotFound, ProcedureNotFound, StepInputError
from vigil.incidents.service import IncidentService
from vigil.incidents.severity import Severity
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.store.runbook_runs import RunbookRuns

THREE_STEPS = """\
    # Ops

    ## Check the API

    Say hello:

    ```bash
    echo "one $GREETING"
    ```

    Then fail:

    ```bash {name=broken}
    echo two
    false
    echo never
    ```

    ```bash
    echo three
    ```
"""


async def test_steps_run_in_order_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    lines: list[tuple[int, str]] = []
    run = runner(tmp_path, THREE_STEPS, {"env": {"GREETING": "hi"}})

    outcome = await run.run(RunRequest("Check the API", "ana"), lambda n, line: lines.append((n, line)))

    assert lines == [(1, "one hi"), (2, "two")]  # bash -e: the step stopped at `false`
    assert [s.status for s in outcome.steps] == [StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED]
    assert outcome.steps[1].exit_code == 1 and outcome.steps[1].name == "broken"
    assert outcome.steps[2].reason == "not run: step 2 'broken' did not succeed"
    assert outcome.exit is RunExit.FAILED
    assert outcome.procedure == "ops.md#check-the-api"


async def test_one_step_runs_alone_and_a_step_out_of_range_is_a_clear_error(tmp_path: Path) -> None:
    run = runner(tmp_path, THREE_STEPS, {"env": {"GREETING": "hi"}})

    outcome = await run.run(RunRequest("ops.md#check-the-api", "ana", step=3))

    assert [(s.number, s.status, s.output) for s in outcome.steps] == [(3, StepStatus.SUCCEEDED, "three\n")]
    assert outcome.exit is RunExit.OK
    with pytest.raises(StepInputError, match="has steps 1 to 3; there is no step 4"):
        await run.run(RunRequest("ops.md#check-the-api", "ana", step=4))


async def test_an_unknown_procedure_names_the_closest(tmp_path: Path) -> None:
    run = runner(tmp_path, THREE_STEPS)
    with pytest.raises(ProcedureNotFound, match=r"ops\.md#check-the-api") as caught:
        await run.run(RunRequest("restart the database", "ana"))
    assert caught.value.exit_code == 2


async def test_a_missing_program_is_a_failed_step_with_exit_127_and_its_stderr(tmp_path: Path) -> None:
    run = runner(tmp_path, "# Ops\n## Logs\n```bash\nno-such-program-here --tail\n```\n")

    outcome = await run.run(RunRequest("Logs", "ana"))

    step = outcome.steps[0]
    assert (step.status, step.exit_code, outcome.exit) == (StepStatus.FAILED, 127, RunExit.FAILED)
    assert "no-such-program-here: command not found" in step.output
    assert "command not found" in step.reason


async def test_nothing_runs_when_a_later_step_lacks_an_input(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    run = runner(
        tmp_path,
        f"""\
        # Ops
        ## Deploy
        ```bash
        touch {marker}
        ```
        ```bash {{name=restart}}
        psql $DATABASE_URL -c 'SELECT 1'
        git checkout <commit>
        ```
        """,
    )

    outcome = await run.run(RunRequest("Deploy", "ana"))

    assert not marker.exists()
    assert outcome.exit is RunExit.NOT_STARTED and outcome.run_id is None
    assert [s.status for s in outcome.steps] == [StepStatus.SKIPPED, StepStatus.MISSING_INPUT]
    assert outcome.steps[1].reason == (
        "step 2 'restart': set DATABASE_URL (stack file env: or the environment); give --param commit=…"
    )
    assert outcome.steps[0].reason == "not run: step 2 'restart' cannot start"


async def test_a_param_fills_its_placeholder_and_unsafe_values_are_refused(tmp_path: Path) -> None:
    run = runner(tmp_path, "# Ops\n## Show\n```bash\necho 'commit:' <commit> [id]\n```\n")

    outcome = await run.run(RunRequest("Show", "ana", params={"COMMIT": "abc123", "id": "42"}))

    assert outcome.steps[0].output == "commit: abc123 42\n"
    for bad, message in [
        ("abc; rm -rf /", "may hold only letters"),
        ("$(id)", "may hold only letters"),
        ("--upload-pack=x", "may not start with '-'"),
        ("x" * 300, "300 characters; at most 256"),
    ]:
        with pytest.raises(StepInputError, match=message):
            await run.run(RunRequest("Show", "ana", params={"commit": bad, "id": "1"}))


async def test_a_dry_run_shows_resolved_redacted_steps_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    run = runner(
        tmp_path,
        f"# Ops\n## Check\n```bash\ntouch {marker}\npsql $DATABASE_URL -c 'SELECT 1' # $NOT_NEEDED\n```\n",
        {"env": {"DATABASE_URL": "${DATABASE_URL}"}},
        environ={"DATABASE_URL": "postgresql://app:s3cret-pw@db:5432/app"},
    )

    outcome = await run.run(RunRequest("Check", "ana", dry_run=True))

    assert not marker.exists()
    assert outcome.exit is RunExit.OK and outcome.run_id is None
    step = outcome.steps[0]
    assert step.status is StepStatus.PLANNED
    assert "psql postgresql://app:***@db:5432/app -c 'SELECT 1'" in step.command
    assert "s3cret-pw" not in step.command


async def test_a_destructive_step_is_refused_without_confirmation_and_runs_with_it(tmp_path: Path) -> None:
    marker = tmp_path / "flushed"
    run = runner(tmp_path, f"# Ops\n## Reset cache\n```bash\necho flushall > {marker}\n```\n")

    refused = await run.run(RunRequest("Reset cache", "ana"))
    assert refused.exit is RunExit.NOT_STARTED and not marker.exists()
    assert refused.steps[0].status is StepStatus.NEEDS_CONFIRMATION
    assert refused.steps[0].destructive == ("flushdb/flushall",)
    assert refused.steps[0].reason == "step 1 needs confirmation: flushdb/flushall; run with --yes"

    confirmed = await run.run(RunRequest("Reset cache", "ana", confirmed=True))
    assert confirmed.exit is RunExit.OK and marker.read_text() == "flushall\n"


async def test_a_run_is_recorded_and_noted_on_its_incident_redacted(
    tmp_path: Path, engine: AsyncEngine
) -> None:
    run = runner(
        tmp_path,
        '# Ops\n## Check\n```bash\necho "connecting to $DATABASE_URL with $API_TOKEN"\n```\n',
        {"env": {"DATABASE_URL": "postgresql://app:pw-in-url@db:5432/app"}},
        engine=engine,
        environ={"API_TOKEN": "tok-0123456789"},
    )
    assert run.incidents is not None
    incident = await _incident(run.incidents)

    outcome = await run.run(RunRequest("Check", "ana", incident_id=incident))

    expected = "connecting to postgresql://app:***@db:5432/app with ***\n"
    assert outcome.steps[0].output == expected
    assert outcome.run_id is not None
    record = await RunbookRuns(engine).get(outcome.run_id)
    assert (record.procedure, record.actor, record.incident_id, record.exit_code) == (
        "ops.md#check",
        "ana",
        incident,
        0,
    )
    assert record.steps[0]["output"] == expected and record.steps[0]["status"] == "succeeded"
    assert record.finished_at is not None and record.finished_at >= record.started_at
    timeline = await run.incidents.timeline(incident)
    noted = [e for e in timeline if str(e.kind) == "runbook"]
    assert len(noted) == 1 and noted[0].actor == "ana"
    assert noted[0].text.startswith("ana ran step 1 of ops.md#check (Check): succeeded, exit 0 in ")
    assert expected.strip() in noted[0].text
    assert "pw-in-url" not in str(record.as_dict()) and "tok-0123456789" not in noted[0].text


async def test_a_run_on_an_unknown_incident_runs_nothing(tmp_path: Path, engine: AsyncEngine) -> None:
    marker = tmp_path / "ran"
    run = runner(tmp_path, f"# Ops\n## Check\n```bash\ntouch {marker}\n```\n", engine=engine)
    with pytest.raises(IncidentNotFound, match="incident 999 does not exist"):
        await run.run(RunRequest("Check", "ana", incident_id=999))
    assert not marker.exists()


async def _incident(incidents: IncidentService) -> int:
    opened = await incidents.open(
        key="test:runbook",
        title="db down",
        severity=Severity.P2,
        service="api",
        check_id=None,
        reason=None,
        channels=[],
        trigger="opened by the test",
    )
    assert opened is not None
    return opened.id
