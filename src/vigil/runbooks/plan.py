"""A step resolved before anything runs: its placeholders filled, its variables found, what it
still lacks, why it needs confirmation, and how it is shown (redacted).

Every chosen step of a run is planned first, so a run that cannot finish for want of an input
does not stop halfway, after its restart and before its check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil.runbooks.model import Section, Step
from vigil.runbooks.safety import confirmation, destructive
from vigil.runbooks.steps import RUNNERS, Setting, StepRunner
from vigil.runbooks.variables import expand, fill, needed, placeholders, run_redactor

ENV_HINT = "(stack file env: or the environment)"


@dataclass(frozen=True)
class StepPlan:
    step: Step  # placeholders filled from the params
    runner: StepRunner | None  # None: a block that is shown, never run
    setting: Setting
    command: str  # as people see it: variables expanded, then redacted
    missing: tuple[str, ...] = ()  # instructions: "set DATABASE_URL …", "give --param commit=…"
    confirm: tuple[str, ...] = ()  # why it needs confirmation
    destructive: tuple[str, ...] = ()  # what in its code is hard to undo

    @property
    def label(self) -> str:
        name = self.step.attributes.name
        return f"step {self.step.number}" + (f" {name!r}" if name else "")

    def missing_reason(self) -> str:
        return f"{self.label}: " + "; ".join(self.missing)

    def confirm_reason(self) -> str:
        return f"{self.label} needs confirmation: {', '.join(self.confirm)}; run with --yes"


def plan_step(
    section: Section,
    step: Step,
    params: Mapping[str, str],
    env: Mapping[str, str],
    base: Setting,
    redact: Callable[[str], str],
) -> StepPlan:
    """``params`` keyed by lower-cased name (``variables.check_params``); ``base`` carries the
    run's shared setting, to which this step's redactor is added."""
    runner = RUNNERS.get(step.kind) if step.runnable else None
    filled = dataclasses.replace(step, code=fill(step, params))
    step_redact = run_redactor(redact, step.kind, filled.code, env)
    setting = dataclasses.replace(base, redact=step_redact)
    if runner is None:
        return StepPlan(filled, None, setting, step_redact(step.code))
    missing: list[str] = []
    unset = [name for name in needed(step.kind, filled.code) if name not in env]
    if unset:
        missing.append(f"set {', '.join(unset)} {ENV_HINT}")
    ungiven = [p for p in placeholders(step) if p.name.lower() not in params]
    if ungiven:
        names = dict.fromkeys(p.name for p in ungiven)
        missing.append("give " + " ".join(f"--param {name}=…" for name in names))
    if not missing:
        missing += runner.missing(filled, setting)
    command = runner.command(filled, setting) if not missing else expand(step.kind, filled.code, env)
    return StepPlan(
        filled,
        runner,
        setting,
        step_redact(command),
        tuple(missing),
        tuple(confirmation(section, filled)),
        tuple(destructive(filled)),
    )
