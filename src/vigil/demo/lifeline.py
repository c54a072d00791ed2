"""The demo's processes end with their parent, whatever ended it.

``make demo`` under ``timeout`` gets SIGTERM sent to ``make``, which dies without passing it on;
a terminal closed sends SIGHUP; ``kill -9`` sends nothing at all. So:

- the demo (``Stopper``) turns SIGINT, SIGTERM, SIGHUP and its parent's end (the parent pid
  changes when it is re-parented) into one stop request, honoured between setup steps and, once
  serving, relayed to uvicorn as SIGTERM for its graceful shutdown;
- the target (``die_with_parent``) asks Linux for SIGTERM when the demo ends (PR_SET_PDEATHSIG,
  at once even after ``kill -9``), and polls its parent pid as well, which works everywhere.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

POLL_SECONDS = 0.2
# How often a stop request is sent again until uvicorn's own handler is in place to take it.
RELAY_SECONDS = 0.5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

log = logging.getLogger("vigil.demo")


class DemoStopped(Exception):
    """A stop was asked for while the demo was still setting up; not an error."""


def follow_parent(parent_pid: int, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` once, from a daemon thread, when ``parent_pid`` is no longer this
    process's parent (already gone when this is called included)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(POLL_SECONDS)
        on_gone()

    threading.Thread(target=watch, name="vigil-parent-watch", daemon=True).start()


def die_with_parent(parent_pid: int) -> None:
    """For a child process: SIGTERM to itself when ``parent_pid`` ends."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # Also covers a parent that ended before prctl above, which then never fires.
    follow_parent(parent_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))


class Stopper:
    """One stop request from a signal or the parent's end; ``install`` once, in the main thread."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.reason = ""

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        follow_parent(os.getppid(), lambda: self.request("its parent process ended"))
        threading.Thread(target=self._relay, name="vigil-stop-relay", daemon=True).start()

    def request(self, reason: str) -> None:
        if not self._requested.is_set():
            self.reason = reason
            self._requested.set()
            log.info("stopping the demo: %s", reason)

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def check(self) -> None:
        """Raise ``DemoStopped`` if a stop was asked for; called between setup steps."""
        if self._requested.is_set():
            raise DemoStopped(self.reason)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only records: raising here could land inside an event loop or a cleanup.
        self.request(signal.Signals(signum).name)

    def _relay(self) -> None:
        # While serving, uvicorn's handler owns SIGTERM and shuts down gracefully; before it is
        # installed (the store still opening) or after, SIGTERM reaches a handler that only
        # records, so sending it again until the process ends is harmless and never lost.
        self._requested.wait()
        while True:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(RELAY_SECONDS)
