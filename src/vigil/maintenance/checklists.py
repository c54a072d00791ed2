"""Running a maintenance checklist of the stack file: each chore item through the chores'
service (``DatabaseChores``, as ``vigil db`` and runbook steps run them), each other item listed
to be done by hand. A chore that changes the database (``vacuum``, ``kill-idle``) runs only when
the run is confirmed. Every outcome is returned, and the run goes to the audit log
(``vigil.audit``) with who ran it; each chore that changed a database is audited by the service.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vigil.config.load import Stack
from vigil.config.maintenance import Checklist, ChoreItem
from vigil.errors import NotFoundError, VigilError
from vigil.maintenance.chores.service import chores_for
from vigil.runbooks.steps.db_chore import CHANGES, lines, perform, read

audit = logging.getLogger("vigil.audit")


class ItemStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    BY_HAND = "by hand"  # words only: a person does it
    UNCONFIRMED = "unconfirmed"  # a chore that changes the database, in a run not confirmed


@dataclass(frozen=True)
class ItemOutcome:
    item: str
    status: ItemStatus
    output: list[str] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "status": str(self.status), "output": self.output, "reason": self.reason}


def checklist_named(stack: Stack, name: str) -> Checklist:
    checklists = stack.model.maintenance.checklists
    if name not in checklists:
        known = ", ".join(checklists) or "none"
        raise NotFoundError(f"no maintenance checklist {name!r} in {stack.file}; its checklists: {known}")
    return checklists[name]


async def run_checklist(
    stack: Stack, name: str, environ: Mapping[str, str], *, actor: str, confirmed: bool
) -> list[ItemOutcome]:
    """Run the chores of checklist ``name`` in order; a failed chore is its outcome, and the next runs."""
    outcomes = [
        await _chore(item, stack, environ, actor, confirmed)
        if isinstance(item, ChoreItem)
        else ItemOutcome(item, ItemStatus.BY_HAND)
        for item in checklist_named(stack, name).items
    ]
    counts = {status: sum(o.status is status for o in outcomes) for status in ItemStatus}
    audit.info(
        "%s ran maintenance checklist %s: %d done, %d failed, %d unconfirmed, %d by hand%s",
        actor,
        name,
        counts[ItemStatus.DONE],
        counts[ItemStatus.FAILED],
        counts[ItemStatus.UNCONFIRMED],
        counts[ItemStatus.BY_HAND],
        "".join(f"; {o.item}: {o.reason}" for o in outcomes if o.status is ItemStatus.FAILED),
    )
    return outcomes


async def _chore(
    item: ChoreItem, stack: Stack, environ: Mapping[str, str], actor: str, confirmed: bool
) -> ItemOutcome:
    chore_word, database, *rest = shlex.split(item.chore)  # its shape is checked when the file is read
    shown = f"chore: {item.chore}"
    parsed = read(shlex.join([chore_word, *rest]))
    if isinstance(parsed, str):
        return ItemOutcome(shown, ItemStatus.FAILED, reason=parsed)
    chore, options, words = parsed
    if chore in CHANGES and not confirmed:
        return ItemOutcome(
            shown, ItemStatus.UNCONFIRMED, reason=f"{chore} changes {database}; confirm the run"
        )
    try:
        chores = chores_for(database, stack, environ, asked_as="the chore's database ", actor=actor)
        answer = await perform(chores, chore, options, words)
    except (VigilError, ValueError) as err:
        return ItemOutcome(shown, ItemStatus.FAILED, reason=stack.redactor(str(err)))
    failed = getattr(answer, "failed", None)
    reason = f"{len(failed)} session(s) not ended" if failed else None
    return ItemOutcome(shown, ItemStatus.FAILED if failed else ItemStatus.DONE, lines(answer), reason)
