"""Procedures described for people and programs: the list (``vigil runbook list``, the API's
index) and one procedure in full with what each step needs (``vigil runbook show``)."""

from __future__ import annotations

from typing import Any

from vigil.runbooks.model import Section
from vigil.runbooks.outcome import RunRequest
from vigil.runbooks.runner import ProcedureRunner, chosen
from vigil.runbooks.safety import confirmation


def summary(section: Section) -> dict[str, Any]:
    confirm = [s.number for s in section.steps if s.runnable and confirmation(section, s)]
    return {
        "id": section.id,
        "title": section.title,
        "path": list(section.path),
        "steps": len(section.steps),
        "runnable": sum(1 for s in section.steps if s.runnable),
        "destructive": bool(confirm),
        "confirm_steps": confirm,
    }


def detail(runner: ProcedureRunner, name: str) -> dict[str, Any]:
    """The procedure ``name`` with every step: its explanation and code, what it lacks in this
    environment, and what makes it need confirmation."""
    section = runner.library.procedure(name)
    request = RunRequest(section.id, actor="")
    plans = {p.step.number: p for p in runner.plan(section, request, list(section.steps))}
    every = [s.number for s in chosen(section, request)]
    steps = []
    for step in section.steps:
        plan = plans.get(step.number)
        steps.append(
            {
                **step.as_dict(),
                "run_all": step.number in every,
                "command": plan.command if plan else runner.stack.redactor(step.code),
                "missing": list(plan.missing) if plan and plan.runner else [],
                "confirm": list(plan.confirm) if plan and plan.runner else [],
                "destructive": list(plan.destructive) if plan else [],
            }
        )
    return {**summary(section), "text": section.text, "steps": steps}
