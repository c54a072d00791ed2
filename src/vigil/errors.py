"""Every error Vigil raises on purpose.

    VigilError                      root: caught at the edges (CLI, API) and shown as one line
    ├── ConfigError                 the stack file is wrong; carries every fault with its place
    ├── StackFileMissing            no -c, no VIGIL_CONFIG and no vigil.yaml here or above
    ├── ProbeError                  a probe could not judge its target (raised inside probes only)
    ├── StoreError                  the state database cannot be opened or migrated
    │   └── StoreMissing            no store where a command of the shell looked (none is created)
    ├── RunbookError                a runbook cannot be read (not UTF-8, too big, nested too deep)
    │   └── StepInputError          a run asked for wrongly: an unsafe --param, a --step out of range
    ├── NotFoundError               an incident, check or token that does not exist (API: 404)
    │   ├── ProcedureNotFound       no runbook procedure by that name; lists the closest
    │   └── IncidentNotFound        a run asked for on an incident that does not exist
    ├── ConflictError               a change the current state does not allow (API: 409)
    │   └── ConfirmationNeeded      a destructive runbook step asked to run without confirmation
    ├── RunRefused                  a runbook run that cannot start as asked (carries the planned run)
    │   ├── ConfirmationNeeded      (also a ConflictError: 409)
    │   └── InputMissing            a step needs a variable or --param it was not given (API: 422)
    ├── InputError                  a value the stack file's settings refuse: a severity the
    │                               scheme lacks, a checklist item the level lacks (API: 422)
    ├── QueryAPIError               a /prometheus query Prometheus would refuse (metrics.query_params):
    │                               400 bad_data, 422 execution, 503 timeout, in Prometheus' shape
    ├── AuthError                   no token, or one that is unknown or revoked (API: 401)
    └── ForbiddenError              a token whose role is too low for the call (API: 403)

Messages say what to fix and where; they never carry a secret (see ``config.secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vigil.runbooks.outcome import RunOutcome


class VigilError(Exception):
    """Root of Vigil's own errors; ``str(err)`` is a complete, user-facing line."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigFault:
    """One fault in a stack file, placed at ``file:line:col`` with its dotted field path."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(VigilError):
    """The stack file cannot be used; ``faults`` lists every problem found, in file order."""

    exit_code = 2

    def __init__(self, faults: list[ConfigFault]) -> None:
        self.faults = sorted(faults, key=lambda f: (f.file, f.line, f.column))
        super().__init__("\n".join(str(f) for f in self.faults))


class StackFileMissing(VigilError):
    """A command needs a stack file and none was named or found; the message says where it looked."""

    exit_code = 2


class ProbeError(VigilError):
    """A probe's target answered wrongly or not at all; the message is the check's reason."""


class StoreError(VigilError):
    """Vigil's state database cannot be reached, opened or migrated."""

    exit_code = 2


class StoreMissing(StoreError):
    """A command that reads or changes state found no store there; it creates none."""


class RunbookError(VigilError):
    """A runbook file cannot be used; the message names the file (and line) and what to fix."""

    exit_code = 2
    status_code = 422


class StepInputError(RunbookError):
    """A run cannot be asked for this way: a ``--param`` value that may not become part of a
    command, a ``--step`` the procedure does not have, a step that is shown and never run."""


class NotFoundError(VigilError):
    """Something asked for by id does not exist; the message names it."""

    status_code = 404


class ProcedureNotFound(NotFoundError):
    """No procedure matches the name given; the message lists the closest ones."""

    exit_code = 2


class IncidentNotFound(NotFoundError):
    """A runbook run names an incident that does not exist: nothing is run."""

    exit_code = 2


class ConflictError(VigilError):
    """The change is not allowed in the current state (e.g. acknowledging a resolved incident)."""

    status_code = 409


class RunRefused(VigilError):
    """A runbook run that cannot start as asked; ``outcome`` is the run as planned, step by step."""

    exit_code = 2
    status_code = 422

    def __init__(self, message: str, outcome: RunOutcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class ConfirmationNeeded(ConflictError, RunRefused):
    """A run would reach a destructive step and was not confirmed; the message names the step
    and what matched."""

    exit_code = 2


class InputMissing(RunRefused):
    """A run's step has an unset variable or an ungiven placeholder; the message names them."""


class InputError(VigilError):
    """A request names what the stack file does not have (a severity, a checklist item); the
    message lists what it does have."""

    status_code = 422


class AuthError(VigilError):
    """The caller is not authenticated: no bearer token, or an unknown or revoked one."""

    status_code = 401


class ForbiddenError(VigilError):
    """The caller's role does not allow the call."""

    status_code = 403
