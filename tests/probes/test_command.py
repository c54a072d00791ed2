"""The ``command`` probe against real processes, run through the engine's ``CheckRunner``."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes import command
from vigil.probes.base import Result
from vigil.probes.command import OUTPUT_LIMIT, CommandCheck


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("svc", "cmd", CommandCheck.model_validate(fields)))


def is_running(pid: int) -> bool:
    """A zombie has finished running: only its parent (or init) has yet to collect it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("fields", "ok", "reason", "exit_code"),
    [
        pytest.param({"command": "true"}, True, None, 0, id="true passes"),
        pytest.param({"command": "false"}, False, "exit 1, expected 0", 1, id="false fails with exit 1"),
        pytest.param(
            {"command": "false", "expect": {"exit_code": 1}}, True, None, 1, id="an expected exit 1 passes"
        ),
        pytest.param(
            {"command": "sh -c 'echo oops >&2; exit 3'"},
            False,
            "exit 3, expected 0: oops",
            3,
            id="a failure quotes the last stderr line",
        ),
        pytest.param(
            {"command": "sh -c 'echo x; exit 3'"},
            False,
            "exit 3, expected 0: x",
            3,
            id="a failure with no stderr quotes the last stdout line",
        ),
        pytest.param(
            {"command": "sh -c 'kill -9 $$'"},
            False,
            "killed by SIGKILL, expected exit 0",
            -9,
            id="a process killed by a signal says which",
        ),
        pytest.param(
            {"command": "echo healthy", "expect": {"stdout": "^healthy$"}},
            True,
            None,
            0,
            id="stdout matching the pattern passes",
        ),
        pytest.param(
            {"command": "echo sick", "expect": {"stdout": "healthy"}},
            False,
            "stdout does not match /healthy/",
            0,
            id="stdout not matching the pattern fails",
        ),
        pytest.param(
            {"command": ["echo", "a  b"], "expect": {"stdout": "^a  b$"}},
            True,
            None,
            0,
            id="a list is passed as arguments untouched",
        ),
        pytest.param(
            {"command": "echo one two three | wc -w", "shell": True, "expect": {"stdout": r"^\s*3\s*$"}},
            True,
            None,
            0,
            id="shell true runs pipes",
        ),
        pytest.param(
            {"command": "echo 'a|b'", "expect": {"stdout": r"^a\|b$"}},
            True,
            None,
            0,
            id="without shell a pipe is only an argument",
        ),
        pytest.param(
            {"command": "exit 4", "shell": True, "expect": {"exit_code": 4}},
            True,
            None,
            4,
            id="shell builtins work with shell true",
        ),
    ],
)
async def test_a_command_is_judged_by_exit_code_and_stdout(
    runner: CheckRunner, fields: dict[str, Any], ok: bool, reason: str | None, exit_code: int
) -> None:
    result = await run(runner, **fields)

    assert (result.ok, result.reason) == (ok, reason)
    assert result.values == {"exit_code": exit_code}


async def test_the_command_sees_its_env_on_top_of_vigils_environment(
    runner: CheckRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_TEST_INHERITED", "from-vigil")
    result = await run(
        runner,
        command="echo $VIGIL_TEST_INHERITED $VIGIL_TEST_OWN",
        shell=True,
        env={"VIGIL_TEST_OWN": "from-check"},
        expect={"stdout": "^from-vigil from-check$"},
    )

    assert result.ok, result.reason


async def test_the_command_runs_in_its_cwd(runner: CheckRunner, tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("here\n")

    result = await run(runner, command="cat marker", cwd=str(tmp_path), expect={"stdout": "^here$"})

    assert result.ok, result.reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"command": "vigil-no-such-program --flag"},
            "command not found: vigil-no-such-program",
            id="a missing program",
        ),
        pytest.param(
            {"command": "true", "cwd": "/nope/vigil"},
            "working directory /nope/vigil does not exist",
            id="a missing working directory",
        ),
    ],
)
async def test_a_command_that_cannot_start_fails_with_one_line(
    runner: CheckRunner, fields: dict[str, Any], reason: str
) -> None:
    result = await run(runner, **fields)

    assert (result.ok, result.reason) == (False, reason)


async def test_a_timed_out_command_is_killed_at_once(
    runner: CheckRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[asyncio.subprocess.Process] = []
    spawn = asyncio.create_subprocess_exec

    async def remember(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        process = await spawn(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", remember)
    clock = time.monotonic()

    result = await run(runner, command="sleep 30", timeout=0.3)

    assert (result.ok, result.reason) == (False, "timed out after 300ms")
    assert time.monotonic() - clock < 2.5
    assert not is_running(started[0].pid)


async def test_a_timed_out_command_takes_its_children_down_too(runner: CheckRunner, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait"

    result = await run(runner, command=script, shell=True, timeout=0.5)

    assert result.reason == "timed out after 500ms"
    shell_pid, child_pid = (int(line) for line in pids.read_text().split())
    # SIGKILL is delivered asynchronously; the orphaned child may take a moment to be marked dead.
    for _ in range(100):
        if not is_running(child_pid):
            break
        await asyncio.sleep(0.02)
    assert not is_running(shell_pid)
    assert not is_running(child_pid)


async def test_a_noisy_command_keeps_only_the_end_of_its_output(runner: CheckRunner) -> None:
    script = "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo last words >&2; exit 2"

    result = await run(runner, command=script, shell=True)

    assert result.reason == "exit 2, expected 0: last words"


async def test_output_beyond_the_limit_is_dropped_from_the_front() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"a" * (OUTPUT_LIMIT * 3) + b"the end")
    stream.feed_eof()

    kept = await command._tail(stream)

    assert len(kept) == OUTPUT_LIMIT
    assert kept.endswith(b"the end")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"command": ["echo", "x"], "shell": True}, "write command as one string", id="shell with a list"
        ),
        pytest.param({"command": "   "}, "command is empty", id="a blank command"),
        pytest.param({"command": []}, "command is empty", id="an empty list"),
        pytest.param({"command": "echo 'unclosed"}, "cannot be split", id="an unclosed quote"),
        pytest.param(
            {"command": "true", "expect": {"stdout": "(unclosed"}},
            "not a valid regular expression",
            id="a broken stdout pattern",
        ),
    ],
)
def test_a_command_check_that_cannot_work_is_rejected_when_loaded(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CommandCheck.model_validate(fields)


async def test_a_command_leads_its_own_process_group(runner: CheckRunner) -> None:
    # Killing the command's group on timeout must never reach Vigil's own group.
    probe = "import os; print(os.getsid(0) == os.getpgid(0) == os.getpid())"

    result = await run(runner, command=[sys.executable, "-c", probe], expect={"stdout": "^True$"})

    assert result.ok, result.reason
