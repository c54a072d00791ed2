"""``redis``: a snapshot taken with ``redis-cli --rdb`` (the server streams its RDB as to a
replica), checked with ``redis-check-rdb``, proven by a private ``redis-server`` started on a
copy of it, whose keys are counted per database and compared with the manifest's.

The manifest's key counts are read from the source (``INFO keyspace``) just before the snapshot
starts, so a busy Redis may differ by the keys written in between, and ``verify: restore`` says
so. The password reaches redis-cli in ``REDISCLI_AUTH``, never on a command line. A restore
writes the RDB file a Redis server is then started on: Redis cannot load one while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from vigil.backups.base import Dump, EngineKind
from vigil.errors import BackupError, BackupRefused

_STARTUP = 30.0  # seconds a private server may take to load a snapshot


def _where(url: str) -> tuple[str, int, dict[str, str], list[str]]:
    """Host, port, the environment giving the password, and redis-cli's login arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise BackupError("the Redis source is not a redis:// URL")
    try:
        port = parts.port or 6379
    except ValueError:
        raise BackupError("the port in the Redis URL is not a number") from None
    host = parts.hostname or "127.0.0.1"
    env = {"REDISCLI_AUTH": unquote(parts.password)} if parts.password else {}
    login = ["--user", unquote(parts.username)] if parts.username and parts.password else []
    return host, port, env, [*login, *(["--tls"] if parts.scheme == "rediss" else [])]


async def _run(tool: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a Redis tool; its stdout, or ``BackupError`` with the line that says what went wrong."""
    try:
        process = await asyncio.create_subprocess_exec(
            tool, *args, stdout=-1, stderr=-2, env={**os.environ, **(env or {})}
        )
    except OSError as err:
        raise BackupError(f"cannot run {tool}: {err.strerror}; install redis-tools") from None
    try:
        out = (await process.communicate())[0].decode("utf-8", "replace")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        said = [line.strip() for line in out.splitlines() if line.strip()]
        marked = [n for n, line in enumerate(said) if "ERROR DETECTED" in line]
        line = (
            said[marked[0] + 1]
            if marked and marked[0] + 1 < len(said)
            else (said[-1] if said else "no message")
        )
        raise BackupError(f"{tool} failed (exit {process.returncode}): {line}")
    return out


async def _keyspace(url: str) -> tuple[str, dict[str, int]]:
    """The server's version and its number of keys per database (``db0``…)."""
    import redis.asyncio
    import redis.exceptions

    client: Any = redis.asyncio.Redis.from_url(url, socket_timeout=15, socket_connect_timeout=15)
    try:
        server = await client.info("server")
        keyspace = await client.info("keyspace")
    except (redis.exceptions.RedisError, OSError) as err:
        host, port, _, _ = _where(url)
        raise BackupError(f"cannot connect to Redis at {host}:{port}: {err}") from None
    finally:
        await client.aclose()
    counts = {name: int(value["keys"]) for name, value in keyspace.items() if isinstance(value, dict)}
    return str(server.get("redis_version", "unknown")), dict(sorted(counts.items()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _loaded_counts(artefact: Path) -> dict[str, int]:
    """Start a private redis-server on a copy of ``artefact``, count its keys, stop it."""
    with tempfile.TemporaryDirectory(prefix="vigil-verify-") as folder:
        await asyncio.to_thread(shutil.copyfile, artefact, Path(folder) / "dump.rdb")
        port = _free_port()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--dbfilename", "dump.rdb"]
        quiet = ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", f"{folder}/log"]
        try:
            server = await asyncio.create_subprocess_exec("redis-server", *args, *quiet, stdout=-3, stderr=-3)
        except OSError as err:
            raise BackupError(f"cannot run redis-server: {err.strerror}; install redis-server") from None
        try:
            return await _wait_for_keys(server, port, Path(folder) / "log")
        finally:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
            await server.wait()


async def _wait_for_keys(server: asyncio.subprocess.Process, port: int, log: Path) -> dict[str, int]:
    deadline = asyncio.get_running_loop().time() + _STARTUP
    while asyncio.get_running_loop().time() < deadline:
        if server.returncode is not None:
            text = await asyncio.to_thread(log.read_text, errors="replace")
            said = [line for line in text.splitlines() if line.strip()]
            reason = re.sub(r"^\d+:\w \S+ \S+ \S+ [*#.-] ", "", said[-1]) if said else "no message"
            raise BackupError(f"redis-server could not load the snapshot: {reason}")
        with contextlib.suppress(BackupError):
            return (await _keyspace(f"redis://127.0.0.1:{port}"))[1]
        await asyncio.sleep(0.05)
    raise BackupError(f"redis-server did not load the snapshot within {_STARTUP:.0f}s")


class RedisEngine:
    async def dump(self, source: str, into: Path) -> Dump:
        host, port, env, login = _where(source)
        version, counts = await _keyspace(source)
        client = (await _run("redis-cli", "--version")).split()[-1]
        await _run(
            "redis-cli", "-h", host, "-p", str(port), *login, "--no-auth-warning", "--rdb", str(into), env=env
        )
        return Dump(f"Redis {version}", f"redis-cli {client}", counts)

    async def check(self, artefact: Path) -> None:
        await _run("redis-check-rdb", str(artefact))

    async def scratch_counts(self, artefact: Path, source: str) -> dict[str, int]:
        await self.check(artefact)
        return await _loaded_counts(artefact)

    async def restore(self, artefact: Path, target: str, *, in_place: bool = False) -> dict[str, int]:
        if in_place:
            raise BackupRefused(
                "Redis cannot load a snapshot while it runs: restore to a file, stop the server, "
                "put the file in its dir as its dbfilename and start it"
            )
        path = Path(target.removeprefix("file://"))
        if await asyncio.to_thread(path.exists):
            raise BackupRefused(f"{path} exists already: restore into a new file")
        counts = await self.scratch_counts(artefact, target)
        await asyncio.to_thread(shutil.copyfile, artefact, path)
        return counts


KIND = EngineKind("redis", "rdb", RedisEngine)
