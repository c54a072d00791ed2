"""Client tools as a backup runs them, and a dump streamed from one tool into another.

``start`` and ``finish`` run a tool: its stdout, or ``BackupError`` with the last line it said.
``dump_teed`` runs a dump and a restore side by side: a copying thread writes what the dump
streams out to the artefact, takes its SHA-256 as it goes, and feeds the same bytes to the
restoring tool. The restore so proves the very bytes the checksum is of, and neither the
artefact nor its checksum needs a second pass over the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from asyncio.subprocess import PIPE, Process
from pathlib import Path

CHUNK = 1024 * 1024
Command = tuple[str, tuple[str, ...], dict[str, str]]  # tool, its arguments, its whole environment


async def start(command: Command, hint: str, *, stdin: int | None = None, stdout: int = PIPE) -> Process:
    from vigil.errors import BackupError

    tool, args, env = command
    try:
        return await asyncio.create_subprocess_exec(
            tool, *args, stdin=stdin, stdout=stdout, stderr=PIPE, env=env
        )
    except OSError as err:
        raise BackupError(f"cannot run {tool}: {err.strerror}; {hint}") from None


async def finish(tool: str, process: Process) -> str:
    """Wait for ``process``; killed when the wait is cancelled."""
    from vigil.errors import BackupError

    try:
        out, said_bytes = await process.communicate()
    except BaseException:
        await stop(process)
        raise
    if process.returncode != 0:
        raise BackupError(f"{tool} failed (exit {process.returncode}): {_gist(said_bytes)}")
    return (out or b"").decode("utf-8", "replace")


def _gist(said: bytes) -> str:
    """The line that says what went wrong: the first naming an error (pg_restore follows it with
    the query and the row it was at, and in parallel with "a worker process died"), else the
    last line."""
    lines = [line.strip() for line in said.decode("utf-8", "replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors[:1] or lines[-1:] or ["no message"])[0]


async def stop(process: Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


async def dump_teed(dump: Command, restore: Command, into: Path, hint: str) -> tuple[str, Process]:
    """Run ``dump`` writing to ``into`` and to ``restore`` at once. The SHA-256 of the artefact
    once the dump ended well, and the restoring process, which may still be at work (building
    indexes, say); when the dump fails, its ``BackupError``, the restore stopped."""
    feed_out, feed_in = _pipe()
    try:
        restoring = await start(restore, hint, stdin=feed_out, stdout=asyncio.subprocess.DEVNULL)
    except BaseException:
        os.close(feed_in)
        raise
    finally:
        os.close(feed_out)
    try:
        dump_out, dump_in = _pipe()
        try:
            dumping = await start(dump, hint, stdout=dump_in)
        except BaseException:
            os.close(dump_out)
            raise
        finally:
            os.close(dump_in)
    except BaseException:
        os.close(feed_in)
        await stop(restoring)
        raise
    copying = asyncio.ensure_future(asyncio.to_thread(_tee, dump_out, into, feed_in))
    dumped = asyncio.ensure_future(finish(dump[0], dumping))
    try:
        # The copy is shielded: its thread runs on until the dump's pipe closes, so it is always
        # awaited to its end, never left writing behind.
        checksum, _ = await asyncio.gather(asyncio.shield(copying), dumped)
    except BaseException:
        await stop(dumping)
        await stop(restoring)  # the copy then stops on a closed pipe at either end
        for task in (dumped, copying):
            with contextlib.suppress(BaseException):
                await task
        raise
    return checksum, restoring


def _pipe() -> tuple[int, int]:
    """A pipe with a larger buffer than the 64 KiB default, so the tools block on it less."""
    out, into = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(into, fcntl.F_SETPIPE_SZ, CHUNK)
    return out, into


def _tee(source: int, into: Path, onward: int) -> str:
    """Copy ``source`` to its end into the file ``into`` and the pipe ``onward`` (closed after);
    the SHA-256 of what was copied. A reader of ``onward`` that stops (it failed) stops only its
    own copy: the artefact is written whole all the same."""
    digest = hashlib.sha256()
    feeding = True
    try:
        with into.open("wb") as out:
            while chunk := os.read(source, CHUNK):
                digest.update(chunk)
                out.write(chunk)
                if feeding:
                    feeding = _feed(onward, chunk)
    finally:
        os.close(source)
        os.close(onward)
    return digest.hexdigest()


def _feed(onward: int, chunk: bytes) -> bool:
    view = memoryview(chunk)
    try:
        while view:
            view = view[os.write(onward, view) :]
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True
