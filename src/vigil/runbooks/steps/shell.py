"""``bash``/``sh``/``console`` steps: the block as one ``bash -e`` script in its own process group.

The environment is the process's and the stack file's ``env:``; the shell expands ``$VAR``
itself, so no value is pasted into the script. Output (stdout and stderr together, in the order
written) is read in chunks, so a line reaches the responder as soon as it is printed. A timeout
ends the whole group, children and grandchildren too: SIGTERM, then SIGKILL after a grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from vigil.runbooks.model import Step, StepKind
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.transcript import Transcript
from vigil.runbooks.variables import expand

GRACE = 3.0  # seconds between SIGTERM and SIGKILL
# After the shell exits, how long a program it started in the background may keep the output
# open before the group is ended: a step's leftovers do not outlive it.
LINGER = 1.0
CHUNK = 64 * 1024


class ShellStep:
    def missing(self, step: Step, setting: Setting) -> list[str]:
        cwd = _cwd(step, setting)
        if not cwd.is_dir():
            return [f"cwd={step.attributes.cwd} is not a directory (relative to {setting.base})"]
        return []

    def command(self, step: Step, setting: Setting) -> str:
        return expand(StepKind.SHELL, step.code, setting.env)

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran:
        try:
            # -e: a runbook block is a sequence whose author expects it to stop at the first
            # failing command; without it a failed `psql` would be followed by the next line
            # (a restart, say) and the step would report only the last command's status.
            process = await asyncio.create_subprocess_exec(
                "bash",
                "-e",
                "-c",
                step.code,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=_cwd(step, setting),
                env=dict(setting.env),
                start_new_session=True,  # its own process group, so a timeout can end all of it
            )
        except FileNotFoundError:
            out.line("bash: command not found")
            return Ran.failed("bash is not installed: shell steps need it", 127)
        except OSError as err:
            return Ran.failed(f"cannot start bash: {err.strerror}", 126)
        return await _watch(process, setting.timeout(step), out)


async def _watch(process: asyncio.subprocess.Process, limit: float, out: Transcript) -> Ran:
    # Not asyncio.timeout around the caller: on expiry the process group is ended, not just abandoned.
    reader = asyncio.create_task(_pump(process, out))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), limit)
        except TimeoutError:
            timed_out = True
            await _end_group(process)
        try:
            await asyncio.wait_for(asyncio.shield(reader), LINGER)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await reader
    finally:
        if process.returncode is None or not reader.done():  # cancelled: take the group with us
            _signal_group(process.pid, signal.SIGKILL)
            reader.cancel()
    out.close()
    code = process.returncode if process.returncode is not None else -signal.SIGKILL
    code = 128 - code if code < 0 else code  # killed by signal N: 128+N, as shells report it
    if timed_out:
        return Ran(StepStatus.TIMED_OUT, code, f"timed out after {limit:g}s; its process group was ended")
    if code == 0:
        return Ran(StepStatus.SUCCEEDED, 0)
    last = out.tail(1)
    return Ran.failed(f"exit code {code}" + (f": {last}" if last else ""), code)


async def _pump(process: asyncio.subprocess.Process, out: Transcript) -> None:
    if process.stdout is None:
        return
    while chunk := await process.stdout.read(CHUNK):
        out.feed(chunk)


async def _end_group(process: asyncio.subprocess.Process) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), GRACE)
    # Children may ignore SIGTERM or outlive the shell: the group is killed either way.
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _cwd(step: Step, setting: Setting) -> Path:
    return setting.base / step.attributes.cwd if step.attributes.cwd else setting.base
