"""``command``: run a program (never through a shell unless asked), judge exit code and output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind

# Enough to judge a health script's output; a command that prints gigabytes cannot exhaust memory.
OUTPUT_LIMIT = 64 * 1024
# How long to wait for the killed process to be reaped; a process stuck in the kernel may never go.
REAP_SECONDS = 1.0


class CommandExpect(StrictModel):
    exit_code: int = 0
    stdout: str | None = Field(None, description="A regular expression stdout must match.")

    @field_validator("stdout")
    @classmethod
    def _stdout_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a valid regular expression: {err}") from None
        return value


class CommandCheck(CheckBase):
    kind: ClassVar[str] = "command"

    command: str | list[str] = Field(description="Program and arguments; a string is split like a shell.")
    shell: bool = Field(False, description="Run the string through /bin/sh (pipes, globs).")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    expect: CommandExpect = Field(default_factory=CommandExpect)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _command_is_runnable(self) -> CommandCheck:
        if self.shell and not isinstance(self.command, str):
            raise ValueError("with shell: true, write command as one string")
        if not self.shell and isinstance(self.command, str):
            try:
                shlex.split(self.command)
            except ValueError as err:  # e.g. an unclosed quote
                raise ValueError(f"command cannot be split into arguments: {err}") from None
        empty = not str(self.command).strip() if self.shell else not self.argv
        if empty:
            raise ValueError("command is empty")
        return self

    @property
    def argv(self) -> list[str]:
        """The program and its arguments as executed; with ``shell`` that program is /bin/sh.

        ``sh -c`` is exactly what ``create_subprocess_shell`` runs, spelled out so both forms
        share one spawn path.
        """
        if self.shell:
            return ["/bin/sh", "-c", str(self.command)]
        return shlex.split(self.command) if isinstance(self.command, str) else list(self.command)


class CommandProbe:
    async def observe(self, check: CommandCheck) -> Observation:
        process = await _start(check)
        try:
            stdout, stderr, code = await asyncio.gather(
                _tail(process.stdout), _tail(process.stderr), process.wait()
            )
        except BaseException:
            # The engine's timeout cancels us: take the whole process group down with us, or a
            # hung script (and whatever it started) would outlive every check run.
            await _kill(process)
            raise
        return _judge(check.expect, code, stdout, stderr)

    async def close(self) -> None:
        return None


async def _start(check: CommandCheck) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *check.argv,
            stdin=asyncio.subprocess.DEVNULL,  # a command reading Vigil's stdin would wait forever
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=check.cwd,
            env={**os.environ, **check.env},
            # Its own session (and process group, id = its pid) so one killpg reaches its children.
            start_new_session=True,
        )
    except FileNotFoundError as err:
        # The same error means a missing cwd or a missing program; its filename says which.
        if check.cwd is not None and err.filename == check.cwd:
            raise ProbeError(f"working directory {check.cwd} does not exist") from None
        raise ProbeError(f"command not found: {check.argv[0]}") from None
    except PermissionError:
        raise ProbeError(f"cannot run {check.argv[0]}: permission denied") from None


async def _tail(stream: asyncio.StreamReader | None) -> bytes:
    """Everything ``stream`` says until it closes, keeping only the last ``OUTPUT_LIMIT`` bytes."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(OUTPUT_LIMIT):
        kept += chunk
        if len(kept) > OUTPUT_LIMIT:
            del kept[:-OUTPUT_LIMIT]
    return bytes(kept)


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group already ended on its own
        os.killpg(process.pid, signal.SIGKILL)
    # Reap it so no zombie is left behind; bounded, since we are being cancelled and must not linger.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), REAP_SECONDS)


def _judge(expect: CommandExpect, code: int, stdout: bytes, stderr: bytes) -> Observation:
    out = stdout.decode("utf-8", errors="replace")
    if code != expect.exit_code:
        if code < 0:
            reason = f"killed by {_signal_name(-code)}, expected exit {expect.exit_code}"
        else:
            reason = f"exit {code}, expected {expect.exit_code}"
        # Many scripts report trouble on stdout; its last line beats saying nothing.
        detail = _last_line(stderr.decode("utf-8", errors="replace")) or _last_line(out)
        return Observation.failed(f"{reason}: {detail}" if detail else reason, exit_code=code)
    if expect.stdout is not None and not re.search(expect.stdout, out):
        return Observation.failed(f"stdout does not match /{expect.stdout}/", exit_code=code)
    return Observation.passed(exit_code=code)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


KIND = ProbeKind("command", CommandCheck, CommandProbe)
