"""``vigil silence add|list|expire``: silence alerts that match labels, from a shell.

The same service functions as ``/api/v1/silences``; a running ``vigil up`` sees a silence
made here within a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import typer

from vigil.cli.options import ActorOption, DbOption, JsonOption, StackOption
from vigil.cli.output import emit, print_table
from vigil.cli.store_session import with_store

if TYPE_CHECKING:
    from datetime import datetime

    from vigil.alerting.quiet import QuietRules
    from vigil.alerting.silences import Silence

silence_app = typer.Typer(help="Silence alerts that match labels, for a while.", no_args_is_help=True)
T = TypeVar("T")
ConfigOpt = StackOption
Actor = ActorOption
For = Annotated[str, typer.Option("--for", help="How long, from now: 30m, 2h, 1d.")]
Comment = Annotated[str, typer.Option(help="Why, for whoever wonders (required).")]


def run_quiet(config: Path | None, db: str | None, work: Callable[[QuietRules], Awaitable[T]]) -> T:
    """Run ``work`` against the store of ``config`` (or ``db``); a ``VigilError`` is one line and its exit code."""
    # The rules (and the store under them) load when a command runs, not when it is registered.
    from vigil.alerting.quiet import QuietRules
    from vigil.engine.clock import SystemClock

    return with_store(
        config, db, lambda stack, engine: work(QuietRules(engine, stack.maintenance, SystemClock()))
    )


def seconds(text: str) -> float:
    from vigil.alerting.silences import QuietError
    from vigil.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as err:
        raise QuietError(f"--for: {err}") from None


class Quieting(Protocol):
    """A silence or a maintenance window: its dict tells its state at a time."""

    def as_dict(self, now: datetime) -> dict[str, Any]: ...


def quiet_one(
    config: Path | None, db: str | None, call: Callable[[QuietRules], Awaitable[Quieting]]
) -> dict[str, Any]:
    """What ``call`` made or changed, as it stands now."""

    async def work(quiet: QuietRules) -> dict[str, Any]:
        return (await call(quiet)).as_dict(quiet.clock.now())

    return run_quiet(config, db, work)


def quiet_list(
    config: Path | None, db: str | None, call: Callable[[QuietRules], Awaitable[Iterable[Quieting]]]
) -> list[dict[str, Any]]:
    """What ``call`` lists, each as it stands now."""

    async def work(quiet: QuietRules) -> list[dict[str, Any]]:
        now = quiet.clock.now()
        return [each.as_dict(now) for each in await call(quiet)]

    return run_quiet(config, db, work)


def _line(silence: Silence) -> str:
    matchers = " ".join(str(m) for m in silence.matchers)
    return f"silence {silence.id}: {matchers} until {silence.ends_at:%Y-%m-%d %H:%M} UTC ({silence.comment})"


@silence_app.command("add")
def add(
    matchers: Annotated[list[str], typer.Argument(help="service=api, severity=~P[12], env!=staging …")],
    duration: For = "1h",
    comment: Comment = "",
    actor: Actor = "cli",
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Silence alerts whose labels match every matcher, from now for --for."""

    async def work(quiet: QuietRules) -> dict[str, Any]:
        silence = await quiet.silences.create(
            matchers, comment=comment, created_by=actor, duration=seconds(duration)
        )
        return silence.as_dict(quiet.clock.now()) | {"text": _line(silence)}

    data = run_quiet(config, db, work)
    text = data.pop("text")
    emit(data, as_json, text)


@silence_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Expired silences too.")] = False,
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Active and pending silences, newest first."""
    silences = quiet_list(config, db, lambda quiet: quiet.silences.list(include_expired=all_))
    if as_json:
        emit(silences, True, "")
        return
    print_table(("id", "state", "matchers", "ends (UTC)", "by", "comment"), map(_row, silences))


def _row(s: dict[str, Any]) -> tuple[str, ...]:
    matchers = " ".join(f"{m['name']}{m['op']}{m['value']}" for m in s["matchers"])
    ends = s["ends_at"][:16].replace("T", " ")
    return str(s["id"]), s["state"], matchers, ends, s["created_by"], s["comment"]


@silence_app.command("expire")
def expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's id, from `vigil silence list`.")],
    config: ConfigOpt = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a silence now; matching alerts page again."""
    expired = quiet_one(config, db, lambda quiet: quiet.silences.expire(silence_id))
    emit(expired, as_json, f"silence {silence_id} expired")


def register(app: typer.Typer) -> None:
    app.add_typer(silence_app, name="silence")
