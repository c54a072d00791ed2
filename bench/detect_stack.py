"""Shared plumbing of the detection benchmark (bench/detect.py): a stack under test and its temp dir.

A launcher (``bench/detect_peers.py`` for the peers, ``vigil_stack`` in
bench/detect.py) is a context manager around ``workspace()`` that yields a
``Stack``: the processes to watch, where their logs are, and how to tell its
page and its all-clear apart among the deliveries at ``/hook/<name>``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peer import _log_tail, _stop_all

STARTUP_S = 30.0  # how long any stack may take to become ready

# One delivery as bench/receiver.py records it: seq, t, wall, stack, body.
Hook = dict[str, Any]


@dataclass
class Stack:
    """A running monitor under test, as the trial loop sees it."""

    name: str  # also the receiver path: its pages arrive at /hook/<name>
    workdir: Path
    procs: list[subprocess.Popen[bytes]]
    logs: list[str]  # log file names in workdir, for error reports
    is_page: Callable[[Hook], bool]
    is_recovery: Callable[[Hook], bool]
    notes: list[str] = field(default_factory=list)

    def check_alive(self) -> None:
        """Raise with the logs' tails if any process of the stack has exited."""
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: {proc.args!r} exited with {proc.returncode}\n{self.log_tails()}"
                )

    def log_tails(self) -> str:
        return "\n".join(f"--- {name} ---\n{_log_tail(self.workdir, name)}" for name in self.logs)


def require(*binaries: str) -> None:
    for binary in binaries:
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} not found: run scripts/install-peers.sh")


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """A temp dir and a process list that are both cleaned up however the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield workdir, procs
    finally:
        # A second Ctrl-C during the graceful stop must not leave the dir behind.
        try:
            _stop_all(procs)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def body_has(hook: Hook, key: str, value: str) -> bool:
    """Whether the delivery's JSON body has body[key] == value."""
    body = hook.get("body")
    return isinstance(body, dict) and body.get(key) == value
