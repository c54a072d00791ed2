"""``vigil incident open|mitigate|reopen|assign|severity|merge|check``: the lifecycle past
acknowledge and resolve, from a shell, through the same service calls as the API. A change the
incident's state does not allow prints one line and exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.incident import Change, incident_command
from vigil.cli.options import ActorOption

if TYPE_CHECKING:
    from vigil.incidents.checklist import ChecklistItem


@incident_command("open")
def open_(
    title: Annotated[str, typer.Argument(help='What is wrong, e.g. "Chat not responding".')],
    severity: Annotated[
        str | None, typer.Option(help="A level of the stack file's scheme; default: its second (P2).")
    ] = None,
    service: Annotated[str | None, typer.Option(help="The service it is about.")] = None,
    actor: ActorOption = "cli",
) -> Change:
    """Open an incident by hand; it pages its severity's channels like any other."""
    return Change(
        lambda s: s.open_manual(title, severity or s.stack.scheme.default.name, actor, service),
        lambda i: f"incident {i.id} opened ({i.severity}): {i.title}",
    )


@incident_command("mitigate")
def mitigate(
    incident_id: int,
    note: Annotated[str | None, typer.Option(help="A note for the timeline.")] = None,
    actor: ActorOption = "cli",
) -> Change:
    """Mitigated: the impact is over, the cause may not be fixed yet."""
    return Change(
        lambda s: s.mitigate(incident_id, actor, note), f"incident {incident_id} mitigated by {actor}"
    )


@incident_command("reopen")
def reopen(
    incident_id: int,
    reason: Annotated[str, typer.Argument(help="Why it is not over.")],
    actor: ActorOption = "cli",
) -> Change:
    """Reopen a resolved incident: back to triggered, paging again."""
    return Change(
        lambda s: s.reopen(incident_id, actor, reason), f"incident {incident_id} reopened by {actor}"
    )


@incident_command("assign")
def assign(
    incident_id: int,
    name: Annotated[str | None, typer.Argument(help="Who; leave out with --clear.")] = None,
    commander: Annotated[bool, typer.Option(help="Set the incident commander instead.")] = False,
    clear: Annotated[bool, typer.Option(help="Clear it.")] = False,
    actor: ActorOption = "cli",
) -> Change:
    """Set (or --clear) the assignee, or with --commander the incident commander."""
    if (name is not None) == clear:
        raise typer.BadParameter("give a NAME, or --clear")
    from vigil.incidents.lifecycle import Role

    role = Role.COMMANDER if commander else Role.ASSIGNEE
    says = f"incident {incident_id}: {role} {name or 'cleared'}"
    return Change(lambda s: s.assign(incident_id, actor, name, role), says)


@incident_command("severity")
def severity(
    incident_id: int,
    level: Annotated[str, typer.Argument(help="A level of the stack file's scheme, e.g. P1.")],
    actor: ActorOption = "cli",
) -> Change:
    """Change the severity; its targets and checklist follow."""
    return Change(
        lambda s: s.set_severity(incident_id, actor, level),
        lambda i: f"incident {incident_id} is {i.severity} now",
    )


@incident_command("merge")
def merge(
    incident_id: int,
    into: Annotated[int, typer.Argument(help="The incident that stays open.")],
    actor: ActorOption = "cli",
) -> Change:
    """Merge INCIDENT_ID into INTO: it is resolved, and its later failures go to INTO."""
    return Change(
        lambda s: s.merge(incident_id, into, actor),
        lambda survivor: f"incident {incident_id} merged into {survivor.id}",
    )


@incident_command("check")
def check(
    incident_id: int,
    item: Annotated[str, typer.Argument(help="The item's number or its text.")],
    undo: Annotated[bool, typer.Option(help="Untick it.")] = False,
    actor: ActorOption = "cli",
) -> Change:
    """Tick an item of the incident's checklist (its severity's)."""
    return Change(lambda s: s.tick(incident_id, actor, item, not undo), _lines, _dicts)


def _dicts(items: list[ChecklistItem]) -> list[dict[str, Any]]:
    return [i.as_dict() for i in items]


def _lines(items: list[ChecklistItem]) -> str:
    return "\n".join(_line(i) for i in items)


def _line(item: ChecklistItem) -> str:
    mark = "[x]" if item.done else "[ ]"
    by = f"  ({item.done_by})" if item.done_by else ""
    return f"{mark} {item.number}. {item.text}{by}"
