"""Running a procedure: the one service the CLI, the API and the incident page call.

    find the procedure → choose its steps → plan every one (inputs, confirmation)
      → refuse the whole run if any cannot start (exit 2), or show the plan (--dry-run)
      → record the run → run the steps in order, stopping at the first that fails
      → each step's outcome on the record and on the incident's timeline

Output reaches ``on_output`` line by line, redacted, while the step runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.load import Stack
from vigil.engine.clock import Clock, SystemClock
from vigil.errors import IncidentNotFound, NotFoundError, StepInputError
from vigil.incidents.service import IncidentService
from vigil.metrics.store import SeriesStore
from vigil.runbooks.library import Library
from vigil.runbooks.model import Section, Step
from vigil.runbooks.outcome import OutputSink, RunExit, RunOutcome, RunRequest, StepOutcome, StepStatus
from vigil.runbooks.plan import StepPlan, plan_step
from vigil.runbooks.steps import Ran, Setting
from vigil.runbooks.transcript import Transcript
from vigil.runbooks.variables import check_params
from vigil.store.runbook_runs import RunbookRuns

_STOPPED = (StepStatus.FAILED, StepStatus.TIMED_OUT)
log = logging.getLogger("vigil.runbooks")


class ProcedureRunner:
    def __init__(
        self,
        stack: Stack,
        library: Library,
        engine: AsyncEngine | None,
        *,
        incidents: IncidentService | None = None,
        series: SeriesStore | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.stack = stack
        self.library = library
        self.clock = clock or SystemClock()
        self.records = RunbookRuns(engine) if engine is not None else None
        if incidents is None and engine is not None:
            incidents = IncidentService(engine, stack.model, self.clock, redact=stack.redactor)
        self.incidents = incidents
        self.series = series
        self.http = http
        self.environ = environ

    def env(self) -> dict[str, str]:
        """What steps see: the process environment, then the stack file's ``env:`` over it."""
        return {**(os.environ if self.environ is None else self.environ), **self.stack.model.env}

    def plan(self, section: Section, request: RunRequest, steps: list[Step] | None = None) -> list[StepPlan]:
        """Each step the request chooses (or ``steps``) resolved in this environment; nothing runs."""
        params = check_params(request.params)
        env = self.env()
        base = Setting(
            stack=self.stack,
            env=env,
            redact=self.stack.redactor,
            clock=self.clock,
            base=Path(self.stack.file).resolve().parent,
            series=self.series,
            http=self.http,
            actor=request.actor,
        )
        return [
            plan_step(section, s, params, env, base, self.stack.redactor)
            for s in (chosen(section, request) if steps is None else steps)
        ]

    async def run(
        self,
        request: RunRequest,
        on_output: OutputSink | None = None,
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> RunOutcome:
        section = self.library.procedure(request.procedure)
        plans = self.plan(section, request)
        if request.incident_id is not None and not request.dry_run:
            await self._incident_exists(request.incident_id)
        if request.dry_run:
            return _outcome(section, None, [_dry(p) for p in plans])
        blocked = [p for p in plans if p.runner and (p.missing or (p.confirm and not request.confirmed))]
        if blocked:
            return _outcome(section, None, _refused(plans, blocked[0]))
        run_id = None
        if self.records is not None:
            started = self.clock.now()
            run_id = await self.records.start(
                section.id, section.title, request.actor, request.incident_id, started
            )
        outcomes: list[StepOutcome] = []
        stop: StepPlan | None = None
        for plan in plans:
            if stop is not None:
                outcomes.append(_skipped(plan, f"not run: {stop.label} did not succeed"))
                continue
            outcome = await self._run_step(plan, on_output)
            outcomes.append(outcome)
            if on_step is not None:
                on_step(outcome)
            if outcome.status in _STOPPED:
                stop = plan
            if request.incident_id is not None and self.incidents is not None and plan.runner:
                text = _timeline(section, plan, outcome, request.actor)
                await self.incidents.record_runbook_step(request.incident_id, request.actor, text)
        result = _outcome(section, run_id, outcomes)
        if self.records is not None and run_id is not None:
            await self.records.finish(
                run_id, [o.as_dict() for o in outcomes], int(result.exit), self.clock.now()
            )
        return result

    async def _run_step(self, plan: StepPlan, on_output: OutputSink | None) -> StepOutcome:
        if plan.runner is None:
            return _base(plan, StepStatus.SHOWN, "shown, never run")
        out = Transcript(plan.step.number, plan.setting.redact, on_output)
        # Wall time, not the injected clock's: a responder wants to know how long it really took.
        start = time.perf_counter()
        try:
            ran = await plan.runner.run(plan.step, plan.setting, out)
        except Exception as err:  # a step runner's own bug: one failed step, not a dead run
            log.exception("runbook %s %s: the step runner failed", plan.step.kind, plan.label)
            ran = Ran.failed(f"Vigil could not run the step: {type(err).__name__}: {err}")
        out.close()
        return StepOutcome(
            number=plan.step.number,
            name=plan.step.attributes.name,
            status=ran.status,
            command=plan.command,
            exit_code=ran.exit_code,
            duration=time.perf_counter() - start,
            output=out.output,
            reason=plan.setting.redact(ran.reason),
            destructive=plan.destructive,
        )

    async def _incident_exists(self, incident_id: int) -> None:
        if self.incidents is None:
            raise StepInputError("a run on an incident needs Vigil's store (the stack file's store: or --db)")
        try:
            await self.incidents.get(incident_id)
        except NotFoundError:
            raise IncidentNotFound(f"incident {incident_id} does not exist; nothing was run") from None


def chosen(section: Section, request: RunRequest) -> list[Step]:
    """The steps a request runs: the one asked for, or every step not excluded from "run all"."""
    if request.step is None:
        return [s for s in section.steps if not s.attributes.exclude_from_run_all]
    if not 1 <= request.step <= len(section.steps):
        raise StepInputError(
            f"{section.id} has steps 1 to {len(section.steps)}; there is no step {request.step}"
        )
    step = section.steps[request.step - 1]
    if not step.runnable:
        why = "run=false" if not step.attributes.run else f"a {step.language or 'plain'} block"
        raise StepInputError(f"step {step.number} of {section.id} is shown, never run ({why})")
    return [step]


def _base(plan: StepPlan, status: StepStatus, reason: str = "") -> StepOutcome:
    return StepOutcome(
        number=plan.step.number,
        name=plan.step.attributes.name,
        status=status,
        command=plan.command,
        reason=reason,
        destructive=plan.destructive,
    )


def _skipped(plan: StepPlan, reason: str) -> StepOutcome:
    return _base(plan, StepStatus.SHOWN if plan.runner is None else StepStatus.SKIPPED, reason)


def _dry(plan: StepPlan) -> StepOutcome:
    if plan.runner is None:
        return _base(plan, StepStatus.SHOWN, "shown, never run")
    if plan.missing:
        return _base(plan, StepStatus.MISSING_INPUT, plan.missing_reason())
    return _base(plan, StepStatus.PLANNED, plan.confirm_reason() if plan.confirm else "")


def _refused(plans: list[StepPlan], first: StepPlan) -> list[StepOutcome]:
    outcomes: list[StepOutcome] = []
    for plan in plans:
        if plan.runner is not None and plan.missing:
            outcomes.append(_base(plan, StepStatus.MISSING_INPUT, plan.missing_reason()))
        elif plan.runner is not None and plan.confirm:
            outcomes.append(_base(plan, StepStatus.NEEDS_CONFIRMATION, plan.confirm_reason()))
        else:
            outcomes.append(_skipped(plan, f"not run: {first.label} cannot start"))
    return outcomes


def _outcome(section: Section, run_id: int | None, steps: list[StepOutcome]) -> RunOutcome:
    statuses = {s.status for s in steps}
    if statuses & {StepStatus.MISSING_INPUT, StepStatus.NEEDS_CONFIRMATION}:
        exit_ = RunExit.NOT_STARTED
    elif statuses & set(_STOPPED):
        exit_ = RunExit.FAILED
    else:
        exit_ = RunExit.OK
    return RunOutcome(run_id, section.id, section.title, tuple(steps), exit_)


def _timeline(section: Section, plan: StepPlan, outcome: StepOutcome, actor: str) -> str:
    """Who ran which step, how it ended and the last lines it printed (already redacted)."""
    code = "" if outcome.exit_code is None else f", exit {outcome.exit_code}"
    head = (
        f"{actor} ran {plan.label} of {section.id} ({section.title}): "
        f"{outcome.status}{code} in {outcome.duration:.1f}s"
    )
    tail = "\n".join(outcome.output.rstrip("\n").splitlines()[-5:])[-400:]
    reason = f"\n{outcome.reason}" if outcome.reason and outcome.status is not StepStatus.SUCCEEDED else ""
    return head + reason + (f"\n{tail}" if tail else "")
