"""What running a procedure asks for and what it gives back: the contract between the runner
(``runbooks.runner``) and its faces (the CLI, the API, the incident page).

A run is one procedure, all its steps or one (``step``), for one person (``actor``), perhaps on
an incident. Output reaches ``on_output`` line by line as the step prints it, already redacted;
the outcome keeps each step's last ``OUTPUT_KEPT`` bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

OUTPUT_KEPT = 64 * 1024


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ran and exited non-zero (a missing program is exit 127, failed)
    TIMED_OUT = "timed_out"  # killed with its whole process group
    PLANNED = "planned"  # --dry-run: resolved and shown, not run
    SHOWN = "shown"  # a block that is never run (another language, run=false)
    NEEDS_CONFIRMATION = "needs_confirmation"  # destructive and not confirmed: not run
    MISSING_INPUT = "missing_input"  # an unset $VAR or an ungiven <placeholder>: not run
    SKIPPED = "skipped"  # not reached: an earlier step failed or could not start


class RunExit(IntEnum):
    """``vigil runbook run``'s exit codes."""

    OK = 0  # every step that was meant to run ran and succeeded (or was planned, in a dry run)
    FAILED = 1  # a step ran and failed or timed out
    NOT_STARTED = 2  # unknown procedure, missing variable or parameter, confirmation refused


@dataclass(frozen=True)
class RunRequest:
    procedure: str  # an address (file#slug) or a title, as Library.procedure takes it
    actor: str
    step: int | None = None  # 1-based; None: every step not excluded from "run all"
    params: Mapping[str, str] = field(default_factory=dict)  # fills <placeholder>s
    dry_run: bool = False
    confirmed: bool = False  # --yes, or the responder's click: destructive steps may run
    incident_id: int | None = None


@dataclass(frozen=True)
class StepOutcome:
    number: int
    name: str | None
    status: StepStatus
    command: str  # the resolved step as shown to people: secrets redacted
    exit_code: int | None = None
    duration: float = 0.0
    output: str = ""  # redacted, the last OUTPUT_KEPT bytes
    reason: str = ""  # one line: why it failed, was refused or was not run
    destructive: tuple[str, ...] = ()  # what made it need confirmation

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "status": str(self.status),
            "command": self.command,
            "exit_code": self.exit_code,
            "duration": round(self.duration, 3),
            "output": self.output,
            "reason": self.reason,
            "destructive": list(self.destructive),
        }


@dataclass(frozen=True)
class RunOutcome:
    run_id: int | None  # the stored run's id; None for a dry run
    procedure: str  # the procedure's address
    title: str
    steps: tuple[StepOutcome, ...]
    exit: RunExit

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "procedure": self.procedure,
            "title": self.title,
            "exit_code": int(self.exit),
            "steps": [s.as_dict() for s in self.steps],
        }


# Called with (step number, one line of output without its newline), already redacted; it must
# not block: the run's reader calls it between reads.
OutputSink = Callable[[int, str], None]
