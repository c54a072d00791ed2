"""The stack file's severity scheme: ``severity_scheme:`` picks the levels, ``severities:`` tunes them.

```yaml
severity_scheme: SEV          # P (default: P1-P4), SEV (SEV1-SEV4), named (critical, high,
                              # medium, low), or custom: exactly the levels under severities:
severities:
  SEV1: {acknowledge: 5m, resolve: 2h, escalation: all-hands, checklist: [Page the lead, Open a bridge]}
  SEV4: {pages: true}
```

A built-in scheme's level takes only what is given and keeps the rest; ``response:`` is the
earlier name of ``acknowledge:`` and still works (``severities: {P1: {response: 15m}}``). Checks'
``alert.severity`` and rules' ``severity`` name a level, or one of Prometheus' words
(``critical`` → the first level, ``warning`` → the third, ``info`` → the last).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Annotated, Any

from pydantic import Field, model_validator

from vigil.config.check import StrictModel
from vigil.config.durations import Duration
from vigil.incidents.scheme import BUILT_IN, SHORT_CHECKLIST, Level, SchemeName, SeverityScheme

LEVEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
MOST_LEVELS = 10
Path = tuple[str | int, ...]


class LevelSettings(StrictModel):
    """One severity level: its description, targets, paging, escalation and checklist."""

    description: str | None = Field(None, max_length=500)
    acknowledge: Duration | None = Field(None, description="Acknowledge within this, e.g. 15m.")
    response: Duration | None = Field(None, description="The earlier name of acknowledge.")
    resolve: Duration | None = Field(None, description="Resolve within this, e.g. 4h.")
    pages: bool | None = Field(
        None, description="Whether its incidents are sent to their channels; false: shown, not sent."
    )
    escalation: str | None = Field(
        None, max_length=200, description="The escalation policy its incidents start, by name."
    )
    checklist: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        None, max_length=50, description="What a responder ticks off on the incident, in order."
    )

    @model_validator(mode="after")
    def _one_target_name(self) -> LevelSettings:
        if self.acknowledge is not None and self.response is not None:
            raise ValueError("give acknowledge or response (its earlier name), not both")
        for name, seconds in (("acknowledge", self.acknowledge_after), ("resolve", self.resolve)):
            if seconds is not None and seconds <= 0:
                raise ValueError(f"{name} must be longer than 0s")
        return self

    @property
    def acknowledge_after(self) -> float | None:
        return self.acknowledge if self.acknowledge is not None else self.response


def build_scheme(name: SchemeName, settings: Mapping[str, LevelSettings]) -> SeverityScheme:
    """The scheme ``name`` with ``settings`` applied; ``ValueError`` naming what is wrong."""
    faults = list(scheme_faults(name, settings))
    if faults:
        path, message = faults[0]
        raise ValueError(f"{'.'.join(map(str, path))}: {message}")
    if name is SchemeName.CUSTOM:
        levels = [
            _custom(level, rank, given) for rank, (level, given) in enumerate(settings.items(), start=1)
        ]
    else:
        levels = [_tuned(level, settings.get(level.name)) for level in BUILT_IN[name]]
    return SeverityScheme(name, levels)


def scheme_faults(name: SchemeName, settings: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """What is wrong with ``severities:`` under ``severity_scheme: name``: (path, message) each.
    ``settings`` holds a level's ``LevelSettings`` or its raw mapping (the loader's pass)."""
    if name is SchemeName.CUSTOM:
        if not settings:
            yield (
                ("severity_scheme",),
                "a custom scheme needs its levels under severities:, most severe first",
            )
        if len(settings) > MOST_LEVELS:
            yield ("severities",), f"a scheme has at most {MOST_LEVELS} levels; this one has {len(settings)}"
        for level, given in settings.items():
            ack = given.acknowledge_after if isinstance(given, LevelSettings) else _raw_ack(given)
            if ack is None:
                yield ("severities", level), "a level of a custom scheme needs acknowledge: (e.g. 15m)"
        return
    names = [level.name for level in BUILT_IN[name]]
    for level in settings:
        if level not in names:
            yield ("severities", level), f"unknown severity; the scheme has {', '.join(names)}"


def names_only(name: SchemeName, levels: Iterable[str]) -> SeverityScheme:
    """A scheme good for telling its level names (``problem``), whatever its levels' settings."""
    if name is not SchemeName.CUSTOM:
        return SeverityScheme(name, BUILT_IN[name])
    return SeverityScheme(
        name, [Level(level, rank, level, 0.0, None) for rank, level in enumerate(levels, 1)]
    )


def _raw_ack(given: Any) -> Any:
    return given.get("acknowledge", given.get("response")) if isinstance(given, dict) else None


def _tuned(level: Level, given: LevelSettings | None) -> Level:
    if given is None:
        return level
    return replace(
        level,
        description=given.description if given.description is not None else level.description,
        acknowledge=given.acknowledge_after if given.acknowledge_after is not None else level.acknowledge,
        resolve=given.resolve if given.resolve is not None else level.resolve,
        pages=given.pages if given.pages is not None else level.pages,
        escalation=given.escalation if given.escalation is not None else level.escalation,
        checklist=tuple(given.checklist) if given.checklist is not None else level.checklist,
    )


def _custom(name: str, rank: int, given: LevelSettings) -> Level:
    return Level(
        name=name,
        rank=rank,
        description=given.description or name,
        acknowledge=given.acknowledge_after or 0.0,
        resolve=given.resolve,
        pages=given.pages if given.pages is not None else True,
        escalation=given.escalation,
        checklist=tuple(given.checklist) if given.checklist is not None else SHORT_CHECKLIST,
    )
