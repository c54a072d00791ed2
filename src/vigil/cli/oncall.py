"""``vigil oncall who|next|ical``: the stack file's schedules, read from a shell.

Nothing here needs the store: who is on call follows from the stack file (and the calendar
files it names) alone. A time with no offset is read in each schedule's own time zone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.app import fail
from vigil.cli.options import JsonOption, StackOption
from vigil.config.discovery import stack_file_or_fail
from vigil.config.load import load_stack
from vigil.errors import VigilError
from vigil.oncall.schedule import UTC
from vigil.oncall.service import MAX_HANDOFFS, OnCall
from vigil.oncall.status import instant, shift_dict

oncall_app = typer.Typer(help="Who is on call, the next handoffs, and calendar feeds.", no_args_is_help=True)
ScheduleArg = Annotated[str | None, typer.Argument(help="A schedule's name (default: every schedule).")]
At = Annotated[
    str | None,
    typer.Option(
        "--at", help="When: 2026-02-10T12:00:00Z, or with no offset in the schedule's zone; default now."
    ),
]


def _load(config: Path | None) -> OnCall:
    """The schedules of the stack file (``-c``, ``VIGIL_CONFIG`` or the nearest ``vigil.yaml``),
    with calendars at a URL read once for this command."""
    try:
        path = stack_file_or_fail(config)
        oncall = OnCall(load_stack(path))
        if oncall.has_calendar_urls:
            asyncio.run(_refresh(oncall))
    except VigilError as err:
        fail(err)
    if not oncall.names:
        fail(VigilError(f"{path} has no on-call schedules; add oncall: schedules: to it"))
    return oncall


async def _refresh(oncall: OnCall) -> None:
    async with httpx.AsyncClient() as http:
        await oncall.refresh(http)


def _names(oncall: OnCall, schedule: str | None) -> list[str]:
    if schedule is None:
        return oncall.names
    try:
        oncall.schedule(schedule)
    except VigilError as err:
        fail(err)
    return [schedule]


@oncall_app.command("who")
def who(
    schedule: ScheduleArg = None,
    at: At = None,
    config: StackOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who is on call: the name alone for one schedule, a table for all. Exits 1 when a schedule
    asked about has nobody on call, so a cron job can tell a gap in the rota."""
    oncall = _load(config)
    try:
        when = instant(at, dt.datetime.now(UTC))
    except VigilError as err:
        fail(err)
    statuses = [oncall.status(name, when) for name in _names(oncall, schedule)]
    if as_json:
        data = [s.as_dict() for s in statuses]
        typer.echo(oncall.stack.redactor(json.dumps(data[0] if schedule else data, indent=2)))
    elif schedule:
        for name, _ in statuses[0].people:
            typer.echo(name)  # a key of people:, never a value from the environment
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("schedule", "on call", "until", "next"):
            table.add_column(column)
        for s in statuses:
            upcoming = ", ".join(s.next.people) if s.next and s.next.people else "nobody"
            until = _local(s.until, s.timezone) if s.until else "-"
            table.add_row(s.schedule, ", ".join(n for n, _ in s.people) or "nobody", until, upcoming)
        Console(highlight=False).print(table)
    gaps = [s.schedule for s in statuses if not s.people]
    if gaps:
        print(f"nobody is on call on {', '.join(gaps)} at {when.isoformat()}", file=sys.stderr)
        raise typer.Exit(1)


@oncall_app.command("next")
def next_(
    schedule: ScheduleArg = None,
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=MAX_HANDOFFS, help="How many handoffs.")
    ] = 5,
    at: At = None,
    config: StackOption = None,
    as_json: JsonOption = False,
) -> None:
    """The next handoffs: when each shift starts (in the schedule's zone) and who takes it."""
    oncall = _load(config)
    try:
        when = instant(at, dt.datetime.now(UTC))
    except VigilError as err:
        fail(err)
    names = _names(oncall, schedule)
    upcoming = {name: oncall.next_handoffs(name, when, count) for name in names}
    if as_json:
        typer.echo(
            json.dumps({n: [shift_dict(s) for s in shifts] for n, shifts in upcoming.items()}, indent=2)
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("schedule", "from", "to", "on call"):
        table.add_column(column)
    for name, shifts in upcoming.items():
        zone = oncall.schedule(name).zone.key
        for shift in shifts:
            people = ", ".join(shift.people) or "nobody"
            table.add_row(name, _local(shift.start, zone), _local(shift.end, zone), people)
    Console(highlight=False).print(table)


@oncall_app.command("ical")
def ical(
    schedule: Annotated[str, typer.Argument(help="The schedule whose shifts to print.")],
    config: StackOption = None,
) -> None:
    """Print the schedule's shifts as an iCalendar feed: the past week and the next 12 weeks."""
    oncall = _load(config)
    try:
        document = oncall.feed(schedule, dt.datetime.now(UTC))
    except VigilError as err:
        fail(err)
    sys.stdout.write(oncall.stack.redactor(document.decode()))


def _local(at: dt.datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")
