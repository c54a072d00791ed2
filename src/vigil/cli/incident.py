"""``vigil incident``: list, show, acknowledge, resolve and annotate incidents from a shell.

The same service functions as the API; pages caused here (acknowledged, resolved) go into the
outbox and are sent by the running ``vigil up``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from vigil.cli.options import ActorOption, DbOption, JsonOption, StackOption, store_command
from vigil.cli.output import emit, print_table
from vigil.cli.store_session import with_store
from vigil.incidents.severity import IncidentStatus

if TYPE_CHECKING:
    from vigil.incidents.model import Incident
    from vigil.incidents.service import IncidentService

incident_app = typer.Typer(
    help="Open, list, acknowledge, mitigate, resolve, reopen, assign, merge and annotate incidents.",
    no_args_is_help=True,
)
T = TypeVar("T")
ConfigOpt = StackOption
Actor = ActorOption


def _run(config: Path | None, db: str | None, work: Callable[[IncidentService], Awaitable[T]]) -> T:
    # The service (and the store under it) loads when a command runs, not when it is registered.
    from vigil.engine.clock import SystemClock
    from vigil.incidents.service import IncidentService

    return with_store(config, db, lambda stack, engine: work(IncidentService(engine, stack, SystemClock())))


def _as_dict(incident: Incident) -> dict[str, Any]:
    return incident.as_dict()


@dataclass(frozen=True)
class Change:
    """What an incident command does: ``call`` a service function on the stack's store, then print
    its ``data`` as JSON, else what it ``says``."""

    call: Callable[[IncidentService], Awaitable[Any]]
    says: str | Callable[[Any], str]
    data: Callable[[Any], Any] = _as_dict


def _carry_out(config: Path | None, db: str | None, as_json: bool, change: Change) -> None:
    done = _run(config, db, change.call)  # a VigilError is one line and its exit code
    emit(change.data(done), as_json, change.says if isinstance(change.says, str) else change.says(done))


def incident_command(name: str) -> Callable[[Callable[..., Change]], Callable[..., Change]]:
    """Register a function that returns its ``Change`` as ``vigil incident NAME``."""
    return store_command(incident_app, name, _carry_out)


@incident_app.command("list")
def list_(
    status: Annotated[list[IncidentStatus] | None, typer.Option(help="Only these statuses.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Incidents, open ones first."""
    incidents = _run(config, db, lambda s: s.list(status=status or (), limit=limit))
    if as_json:
        emit([i.as_dict() for i in incidents], True, "")
        return
    print_table(("id", "severity", "status", "check", "opened", "title"), map(_row, incidents))


def _row(i: Incident) -> tuple[str | None, ...]:
    opened = i.opened_at.strftime("%Y-%m-%d %H:%M:%S")
    return str(i.id), str(i.severity), str(i.status), i.check or i.service, opened, i.title


@incident_command("show")
def show(incident_id: int) -> Change:
    """One incident with its timeline."""

    async def work(s: IncidentService) -> dict[str, Any]:
        return {
            **(await s.get(incident_id)).as_dict(),
            "timeline": [e.as_dict() for e in await s.timeline(incident_id)],
            "checklist": [i.as_dict() for i in await s.checklist(incident_id)],
            "merged": await s.merged_here(incident_id),
        }

    return Change(work, _shown, data=lambda shown: shown)


def _shown(data: dict[str, Any]) -> str:
    lines = [
        f"#{data['id']} [{data['severity']} {data['status']}] {data['title']}",
        f"reason: {data['reason']}",
        *_facts(data),
    ]
    lines += [f"  {e['at'][:19]}  {e['kind']:<13} {e['text']}" for e in data["timeline"]]
    return "\n".join(lines)


@incident_command("ack")
def ack(incident_id: int, actor: Actor = "cli") -> Change:
    """Acknowledge: you are on it."""
    return Change(
        lambda s: s.acknowledge(incident_id, actor), f"incident {incident_id} acknowledged by {actor}"
    )


@incident_command("resolve")
def resolve(
    incident_id: int,
    note: Annotated[str | None, typer.Option(help="A closing note for the timeline.")] = None,
    actor: Actor = "cli",
) -> Change:
    """Resolve, with an optional closing note."""
    return Change(
        lambda s: s.resolve(incident_id, actor, note), f"incident {incident_id} resolved by {actor}"
    )


@incident_app.command("note")
def note(
    incident_id: int, text: str, actor: Actor = "cli", config: ConfigOpt = None, db: DbOption = None
) -> None:
    """Add a note to the timeline."""
    _run(config, db, lambda s: s.add_note(incident_id, actor, text))
    typer.echo(f"note added to incident {incident_id}")


def _facts(data: dict[str, Any]) -> list[str]:
    targets = data["targets"]
    missed = f" — missed: {', '.join(targets['missed'])}" if targets["missed"] else ""
    lines = [
        f"targets: acknowledge by {targets['acknowledge_by'][:19]}, resolve by {(targets['resolve_by'] or '-')[:19]}{missed}"
    ]
    lines += [f"{role}: {data[role]}" for role in ("assignee", "commander") if data[role]]
    if data["labels"]:
        lines.append("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(data["labels"].items())))
    if data["merged_into"]:
        lines.append(f"merged into #{data['merged_into']}")
    if data["merged"]:
        lines.append("merged here: " + ", ".join(f"#{i}" for i in data["merged"]))
    lines += [f"  [{'x' if i['done'] else ' '}] {i['number']}. {i['item']}" for i in data["checklist"]]
    return lines


def register(app: typer.Typer) -> None:
    # Their commands join incident_app, in this order in the help.
    from vigil.cli import incident_updates  # noqa: F401 (update, postmortem)

    # isort: split
    from vigil.cli import incident_lifecycle  # noqa: F401 (open, mitigate, reopen, assign, …)

    app.add_typer(incident_app, name="incident")
