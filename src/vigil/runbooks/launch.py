"""Starting a run for the API and the dashboard: the one service both faces call.

Before anything runs, the request is checked as the runner itself would check it, so the
caller hears at once what a run in the background would only say later: an unknown procedure
lists the closest (404), a step it does not have or a param that cannot be used is refused
(422, ``StepInputError``), a missing variable or placeholder is named (422, ``InputMissing``)
and an unconfirmed destructive step says what matched (409, ``ConfirmationNeeded``). Only then
is the run started, and the start goes to the audit log (``vigil.audit``) with who asked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from vigil.errors import ConfirmationNeeded, InputMissing
from vigil.runbooks.library import Library
from vigil.runbooks.live import LiveRun, LiveRuns
from vigil.runbooks.outcome import RunRequest
from vigil.runbooks.plan import StepPlan
from vigil.runbooks.runner import ProcedureRunner

audit = logging.getLogger("vigil.audit")


@dataclass(frozen=True)
class Launcher:
    runs: LiveRuns
    runner: ProcedureRunner
    library: Library
    incident: Callable[[int], Awaitable[object]]  # raises NotFoundError for an unknown incident

    async def launch(self, request: RunRequest) -> LiveRun:
        section = self.library.procedure(request.procedure)
        request = replace(request, procedure=section.id)
        if request.incident_id is not None:
            await self.incident(request.incident_id)
        # The runner's own plan (a bad step number or param raises here): what it would refuse.
        plans = [p for p in self.runner.plan(section, request) if p.runner is not None]
        if not request.dry_run:
            await self._refuse_unready(plans, request)
        live = self.runs.start(request, section.title)
        audit.info(
            "%s started runbook run %s: %s%s%s%s%s",
            request.actor,
            live.id,
            section.id,
            f" step {request.step}" if request.step else " (all steps)",
            f" on incident #{request.incident_id}" if request.incident_id else "",
            " dry run" if request.dry_run else "",
            " confirmed" if request.confirmed else "",
        )
        return live

    async def _refuse_unready(self, plans: list[StepPlan], request: RunRequest) -> None:
        missing = [p for p in plans if p.missing]
        unconfirmed = [p for p in plans if p.confirm] if not request.confirmed else []
        if not missing and not unconfirmed:
            return
        # The dry run shows the caller every step as planned, secrets redacted; it records nothing.
        planned = await self.runner.run(replace(request, dry_run=True, incident_id=None), None)
        if missing:
            raise InputMissing("; ".join(p.missing_reason() for p in missing), planned)
        reasons = "; ".join(f"{p.label} needs confirmation: {', '.join(p.confirm)}" for p in unconfirmed)
        raise ConfirmationNeeded(f"{reasons}; confirm to run it", planned)
