"""Running runbook procedures over the API of a real ``vigil up``: real shell steps, their output
streamed as Server-Sent Events while they run, refusals before anything runs, and the run on
the incident's timeline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.server.conftest import VigilProcess, runbook_stack, wait_until

RUNBOOK = """# Operations

## Say hello
A greeting, from the stack file's env.

```bash
echo "$GREETING from vigil"
```

## Fail on purpose
```bash
echo "about to fail"
exit 3
```

## Print slowly
Prints, waits a second, prints again.

```bash
echo first
sleep 1
echo second
```

## Clear the scratch directory
Removes what the last job left behind.

```bash
rm -rf "$SCRATCH/junk"
echo cleared
```

## Deploy a commit
```bash
echo "deploying <commit>"
```

## Show the token
```bash
echo "token is $API_TOKEN"
```
"""

SECRET = "s3cr3t-token-value-7a9f"


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VigilProcess]:
    work = tmp_path_factory.mktemp("runbook-api")
    (work / "ops.md").write_text(RUNBOOK)
    (work / "scratch" / "junk").mkdir(parents=True)
    stack = work / "vigil.yaml"
    env = {"GREETING": "hello", "SCRATCH": str(work / "scratch"), "API_TOKEN": "${VIGIL_TEST_API_TOKEN}"}
    stack.write_text(runbook_stack("ops.md", "ops.md#say-hello", env))
    process = VigilProcess(stack, f"sqlite:///{work}/vigil.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_TEST_API_TOKEN", SECRET)
        process.start()
    for role in ("viewer", "responder"):
        process.token(role)  # made now: a CLI start inside a timed test would take a second
    yield process
    process.kill()


def post(
    vigil: VigilProcess, procedure: str, body: dict[str, Any] | None = None, role: str = "responder"
) -> httpx.Response:
    return httpx.post(
        f"{vigil.url}/api/v1/runbooks/{procedure}/run",
        json=body or {},
        headers={"Authorization": f"Bearer {vigil.token(role)}"},
        timeout=30,
    )


def stream(vigil: VigilProcess, run: str) -> Iterator[tuple[str, dict[str, Any], float]]:
    """The run's events as they arrive, each with the moment it arrived."""
    headers = {"Authorization": f"Bearer {vigil.token('viewer')}"}
    url = f"{vigil.url}/api/v1/runbook-runs/{run}/stream"
    with httpx.Client(timeout=30, headers=headers) as client, connect_sse(client, "GET", url) as source:
        for event in source.iter_sse():
            yield event.event, json.loads(event.data), time.monotonic()


def test_a_step_runs_and_with_wait_answers_its_outcome(vigil: VigilProcess) -> None:
    answer = post(vigil, "ops.md%23say-hello", {"wait": True})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["exit_code"] == 0 and run["status"] == "finished"
    (step,) = run["outcome"]["steps"]
    assert step["status"] == "succeeded" and step["output"] == "hello from vigil\n"


def test_a_title_names_a_procedure_too(vigil: VigilProcess) -> None:
    answer = post(vigil, "say hello", {"wait": True})
    assert answer.status_code == 200 and answer.json()["procedure"] == "ops.md#say-hello"


def test_a_failing_step_answers_424_with_its_exit_code_and_output(vigil: VigilProcess) -> None:
    answer = post(vigil, "ops.md%23fail-on-purpose", {"wait": True})
    assert answer.status_code == 424
    body = answer.json()
    assert body["error"].startswith("step 1 failed")
    (step,) = body["outcome"]["steps"]
    assert step["exit_code"] == 3 and "about to fail" in step["output"]


def test_a_destructive_step_is_refused_without_confirm_and_runs_with_it(vigil: VigilProcess) -> None:
    junk = vigil.stack.parent / "scratch" / "junk"
    refused = post(vigil, "ops.md%23clear-the-scratch-directory", {"wait": True})
    assert refused.status_code == 409
    assert "rm -rf" in refused.json()["error"]
    assert refused.json()["outcome"]["steps"][0]["status"] == "planned"
    assert junk.is_dir(), "nothing may run before the confirmation"

    confirmed = post(vigil, "ops.md%23clear-the-scratch-directory", {"wait": True, "confirm": True})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["outcome"]["steps"][0]["output"] == "cleared\n"
    assert not junk.exists()


def test_the_stream_delivers_a_line_before_the_step_ends(vigil: VigilProcess) -> None:
    started = post(vigil, "ops.md%23print-slowly")
    assert started.status_code == 202
    where = started.json()
    assert where["stream"] == f"/api/v1/runbook-runs/{where['run']}/stream"
    seen: list[tuple[str, dict[str, Any], float]] = []
    status_at_first_line = None
    for kind, data, at in stream(vigil, where["run"]):
        seen.append((kind, data, at))
        if kind == "line" and data["line"] == "first":
            status_at_first_line = vigil.api(f"/runbook-runs/{where['run']}")["status"]
    assert status_at_first_line == "running", "the first line came only after the step ended"
    kinds = [kind for kind, _, _ in seen]
    assert kinds == ["line", "line", "step", "done"]
    lines = [data["line"] for kind, data, _ in seen if kind == "line"]
    assert lines == ["first", "second"]
    assert seen[1][2] - seen[0][2] >= 0.8, "the second line waited for the sleep, the first did not"
    assert seen[-1][1]["exit_code"] == 0 and seen[2][1]["status"] == "succeeded"

    # Once it ended, a new stream tells the whole run at once, and the status says the same.
    replay = [(kind, data) for kind, data, _ in stream(vigil, where["run"])]
    assert [kind for kind, _ in replay] == kinds
    assert vigil.api(f"/runbook-runs/{where['run']}")["outcome"]["exit_code"] == 0


def test_a_placeholder_must_be_given_and_then_is_filled_in(vigil: VigilProcess) -> None:
    missing = post(vigil, "ops.md%23deploy-a-commit", {"wait": True})
    assert missing.status_code == 422
    assert "--param commit" in missing.json()["error"]
    given = post(vigil, "ops.md%23deploy-a-commit", {"wait": True, "params": {"commit": "abc123"}})
    assert given.status_code == 200
    assert given.json()["outcome"]["steps"][0]["output"] == "deploying abc123\n"


def test_a_secret_is_masked_in_the_answer_and_the_stream(vigil: VigilProcess) -> None:
    answer = post(vigil, "ops.md%23show-the-token", {"wait": True})
    assert answer.status_code == 200
    assert SECRET not in answer.text and "token is ***" in answer.text
    streamed = [data for kind, data, _ in stream(vigil, answer.json()["id"]) if kind == "line"]
    assert streamed == [{"step": 1, "line": "token is ***"}]


def test_a_run_on_an_incident_lands_on_its_timeline(vigil: VigilProcess) -> None:
    wait_until(lambda: vigil.api("/incidents"), 20, "the failing check to open an incident")
    incident = vigil.api("/incidents")[0]["id"]
    answer = post(vigil, "ops.md%23say-hello", {"wait": True, "incident": incident, "step": 1})
    assert answer.status_code == 200
    timeline = vigil.api(f"/incidents/{incident}")["timeline"]
    assert any("tests-responder ran step 1" in e["text"] and "say-hello" in e["text"] for e in timeline)


def test_procedures_are_listed_for_a_viewer(vigil: VigilProcess) -> None:
    procedures = {p["id"]: p for p in vigil.api("/runbooks")}
    assert procedures["ops.md#say-hello"]["steps"] == 1
    assert procedures["ops.md#clear-the-scratch-directory"]["destructive"] is True
    assert procedures["ops.md#say-hello"]["destructive"] is False
    detail = vigil.api("/runbooks/ops.md%23deploy-a-commit")
    assert detail["steps"][0]["placeholders"] == ["commit"]


@pytest.mark.parametrize(
    ("procedure", "body", "status", "says"),
    [
        ("ops.md%23no-such-thing", {}, 404, "closest"),
        ("ops.md%23say-hello", {"step": 5}, 422, "no step 5"),
        ("ops.md%23deploy-a-commit", {"params": {"commit": "abc; rm -rf /"}}, 422, "--param commit"),
        ("ops.md%23say-hello", {"params": {"bad name": "x"}}, 422, "params"),
        ("ops.md%23say-hello", {"stepp": 1}, 422, "stepp"),
        ("ops.md%23say-hello", {"incident": 99999}, 404, "incident"),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_is_wrong(
    vigil: VigilProcess, procedure: str, body: dict[str, Any], status: int, says: str
) -> None:
    answer = post(vigil, procedure, body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


def test_a_body_past_the_limit_is_413(vigil: VigilProcess) -> None:
    huge = {"params": {f"p{i}": "x" * 4000 for i in range(400)}}
    answer = post(vigil, "ops.md%23say-hello", huge)
    assert answer.status_code == 413 and "larger than" in answer.json()["error"]


def test_running_needs_a_responder_and_unknown_runs_are_404(vigil: VigilProcess) -> None:
    assert post(vigil, "ops.md%23say-hello", role="viewer").status_code == 403
    anonymous = httpx.post(f"{vigil.url}/api/v1/runbooks/ops.md%23say-hello/run", json={}, timeout=10)
    assert anonymous.status_code == 401
    headers = {"Authorization": f"Bearer {vigil.token('viewer')}"}
    for path in ("/api/v1/runbook-runs/nosuchrun", "/api/v1/runbook-runs/nosuchrun/stream"):
        answer = httpx.get(f"{vigil.url}{path}", headers=headers, timeout=10)
        assert answer.status_code == 404 and "no runbook run" in answer.json()["error"]


def test_every_run_is_in_the_audit_log(vigil: VigilProcess) -> None:
    answer = post(vigil, "ops.md%23say-hello", {"wait": True})
    run = answer.json()["id"]
    log = Path(vigil.log)
    wait_until(lambda: f"runbook run {run}" in log.read_text(), 5, "the audit line")
    line = next(text for text in log.read_text().splitlines() if f"runbook run {run}" in text)
    assert "tests-responder started" in line and "ops.md#say-hello" in line
