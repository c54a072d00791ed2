"""Incidents whose check or alert rule left the stack file, resolved when ``vigil up`` starts.

Nothing else would ever resolve them: no result of a check that is no longer probed, and no
evaluation of a rule that is no longer there, can say "passed again". Each is resolved as any
resolve is (its notice goes to whoever got the trigger), with the reason on its timeline:
"resolved at start: check api.old is no longer in vigil.yaml".

- ``check:<id>``: its check is gone, moved to another service (a new id), no longer alerts, or
  now shares its service's incident.
- ``check-group:<service>``: a member is gone or no longer on it, and none of the service's
  grouped checks is failing any more (the members left passed before the restart, so none of
  them will resolve it), unless one that stays asks to be resolved by hand.
- ``alert:<rule>:…``: its rule is gone.

Incidents opened by hand or through the Alertmanager receiver are not the stack file's and
are left alone.

Only this stack file's incidents are looked at: each carries the stack that opened it
(``Stack.identity``), and another stack file sharing the store has checks and rules this one
does not know, so its incidents are never "gone" from here. An incident from before stacks were
recorded (migration 0011) carries none; it becomes this stack's when this stack file opens its
key (a check with that key, a rule of that name), and is otherwise left alone: it may be
another stack file's, and resolving a stranger's incident is worse than leaving one open for a
person to resolve (it is logged, with its id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from vigil.config.load import Stack
from vigil.config.stack import CheckSpec
from vigil.errors import ConflictError
from vigil.incidents.check_incidents import members
from vigil.incidents.model import Incident
from vigil.incidents.reads import OPEN, check_incident_key
from vigil.incidents.service import IncidentService
from vigil.store.tables import CheckStateRow, IncidentKeyRow, IncidentRow

log = logging.getLogger("vigil.incidents")
PREFIXES = ("check:", "check-group:", "alert:")


async def resolve_gone(incidents: IncidentService, stack: Stack) -> list[Incident]:
    """Resolve the open incidents of this stack file that it no longer accounts for; those resolved."""
    specs = {spec.id: spec for spec in stack.specs()}
    rules = {rule.name for rule in stack.model.alerts}
    query = select(IncidentRow).where(
        IncidentRow.status.in_([str(s) for s in OPEN]),
        or_(*(IncidentRow.key.startswith(prefix, autoescape=True) for prefix in PREFIXES)),
    )
    async with incidents.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(IncidentRow.id))).all()
        failing = set((await conn.execute(select(CheckStateRow.check_id).where(~CheckStateRow.ok))).scalars())
    found = await _ours(incidents, rows, _opens(specs, rules))
    name = Path(stack.file).name
    resolved: list[Incident] = []
    for incident in found:
        kind, _, rest = incident.key.partition(":")
        if kind == "check":
            reason = _check_gone(rest, specs, name)
        elif kind == "check-group":
            reason = await _group_gone(incidents, incident, specs, failing, name)
        else:
            rule = rest.split(":")[0]
            reason = None if rule in rules else f"alert rule {rule} is no longer in {name}"
        if reason is None:
            continue
        try:
            resolved.append(await incidents.resolve(incident.id, "vigil", f"resolved at start: {reason}"))
        except ConflictError:
            continue  # resolved meanwhile, by hand or by another instance starting too
        log.info("incident %d resolved at start: %s", incident.id, reason)
    return resolved


def _opens(specs: dict[str, CheckSpec], rules: set[str]) -> Callable[[str], bool]:
    """Whether this stack file opens incidents of a key: a check's, a service's, a rule's."""
    keys = {check_incident_key(s) for s in specs.values() if s.config.alert is not None}
    return lambda key: key in keys or (key.startswith("alert:") and key.split(":")[1] in rules)


async def _ours(
    incidents: IncidentService, rows: Sequence[Any], opens: Callable[[str], bool]
) -> list[Incident]:
    """The incidents of ``rows`` that are this stack file's, taking those from before stacks were
    recorded whose key it opens (see the module's docstring); all of them without a stack."""
    ours = incidents.stack_id
    if ours is None:
        return [Incident.from_row(row) for row in rows]
    taken = [row.id for row in rows if row.stack is None and opens(row.key)]
    if taken:
        async with incidents.engine.begin() as conn:
            claim = update(IncidentRow).where(IncidentRow.id.in_(taken), IncidentRow.stack.is_(None))
            await conn.execute(claim.values(stack=ours))
        log.info("incidents %s, from before stacks were recorded, are this stack file's", _ids(taken))
    unknown = [row.id for row in rows if row.stack is None and row.id not in taken]
    if unknown:
        log.info(
            "incidents %s, from before stacks were recorded, are not known to this stack file; "
            "left open (resolve them by hand if they are over)",
            _ids(unknown),
        )
    return [Incident.from_row(row) for row in rows if row.stack == ours or row.id in taken]


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _check_gone(check_id: str, specs: dict[str, CheckSpec], name: str) -> str | None:
    """Why a check's own incident (``check:<id>``) has no check to resolve it any more, if so."""
    spec = specs.get(check_id)
    if spec is None or spec.config.alert is None:
        return _left(check_id, specs, name)
    if check_incident_key(spec) != f"check:{check_id}":
        return f"check {check_id} now shares the incident of service {spec.service}"
    return None


def _left(check_id: str, specs: dict[str, CheckSpec], name: str) -> str:
    """How a check left an incident's care: gone (or moved: a new id), silent, or on its own."""
    spec = specs.get(check_id)
    if spec is None:
        moved = [s.id for s in specs.values() if s.name == check_id.partition(".")[2]]
        where = f" ({', '.join(moved)} is, under another service)" if moved else ""
        return f"check {check_id} is no longer in {name}{where}"
    if spec.config.alert is None:
        return f"check {check_id} no longer opens incidents (alert: false in {name})"
    return f"check {check_id} has incidents of its own now (group: false in {name})"


async def _group_gone(
    incidents: IncidentService,
    incident: Incident,
    specs: dict[str, CheckSpec],
    failing: set[str],
    name: str,
) -> str | None:
    """Why a service's shared incident has nothing left to resolve it, if so."""
    # Its own key, and those of the incidents merged into it: their checks' failures come here.
    merged = select(IncidentKeyRow.key).where(IncidentKeyRow.incident_id == incident.id)
    async with incidents.engine.connect() as conn:
        routed = {incident.key, *(await conn.execute(merged)).scalars()}
    grouped = [s for s in specs.values() if s.config.alert is not None and check_incident_key(s) in routed]
    if any(s.id in failing for s in grouped):
        return None  # a check that stays still fails: its pass resolves the incident
    by_hand = [s.id for s in grouped if s.config.alert is not None and not s.config.alert.auto_resolve]
    on_it = await members(incidents, incident)
    if any(check_id in on_it for check_id in by_hand):
        return None
    staying = {s.id for s in grouped}
    left = [check_id for check_id in on_it if check_id not in staying]
    if not left:
        return None  # its members are all there: a pass of theirs is what resolves it
    return "; ".join(_left(check_id, specs, name) for check_id in left)
