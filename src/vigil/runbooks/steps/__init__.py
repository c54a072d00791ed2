"""How each kind of step runs: one module per ``StepKind`` behind ``StepRunner``
(``steps/base.py``), and ``RUNNERS``, the one registry the procedure runner looks a kind up in.
``StepKind.SHOWN`` has no runner: such a block is shown, never run.
"""

from __future__ import annotations

from vigil.runbooks.model import StepKind
from vigil.runbooks.steps.base import Ran, Setting, StepRunner
from vigil.runbooks.steps.db_chore import DbChoreStep
from vigil.runbooks.steps.http import HttpStep
from vigil.runbooks.steps.promql import PromqlStep
from vigil.runbooks.steps.shell import ShellStep
from vigil.runbooks.steps.sql import SqlStep

RUNNERS: dict[StepKind, StepRunner] = {
    StepKind.SHELL: ShellStep(),
    StepKind.SQL: SqlStep(),
    StepKind.HTTP: HttpStep(),
    StepKind.PROMQL: PromqlStep(),
    StepKind.DB_CHORE: DbChoreStep(),
}

__all__ = ["RUNNERS", "Ran", "Setting", "StepRunner"]
