"""The ``StepRunner`` protocol every kind of step implements (see ``steps/__init__.py``).

A step runner is given the step with its placeholders filled, the ``Setting`` every step of a
run shares, and a ``Transcript`` for its output; it answers with a ``Ran``. It raises nothing
for a failure of the thing it runs (a missing program, a refused connection, a 500): those are
a failed step with a reason, and a run carries on being reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from vigil.config.load import Stack
from vigil.engine.clock import Clock
from vigil.metrics.store import SeriesStore
from vigil.runbooks.model import Step
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.transcript import Transcript

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Setting:
    """What every step of one run runs with."""

    stack: Stack
    env: Mapping[str, str]  # the process environment and the stack file's env:
    redact: Callable[[str], str]  # this step's redactor (the stack's, and its secret variables)
    clock: Clock
    base: Path  # the stack file's directory: a step's cwd is relative to it
    series: SeriesStore | None = None
    http: httpx.AsyncClient | None = None
    actor: str = "vigil"  # who runs it, for the audit of what changes a database

    def timeout(self, step: Step) -> float:
        return step.attributes.timeout or DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Ran:
    status: StepStatus  # SUCCEEDED, FAILED or TIMED_OUT
    exit_code: int | None
    reason: str = ""

    @classmethod
    def failed(cls, reason: str, exit_code: int | None = 1) -> Ran:
        return cls(StepStatus.FAILED, exit_code, reason)


class StepRunner(Protocol):
    def missing(self, step: Step, setting: Setting) -> list[str]:
        """What the step lacks before it can run, beyond its variables and placeholders (a
        database to run SQL against), each as an instruction: "name one with db=…"."""

    def command(self, step: Step, setting: Setting) -> str:
        """The step as people are shown it (before redaction)."""

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran: ...
