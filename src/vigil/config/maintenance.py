"""The stack file's ``maintenance:`` — recurring windows during which matching alerts page no one,
and the team's recurring checklists, whose items may be database chores Vigil runs.

```yaml
maintenance:
  windows:
    - {name: weekly, cron: "0 2 * * SUN", duration: 2h, timezone: UTC, matchers: {service: api}}
  checklists:
    monthly:
      schedule: "0 3 1 * *"
      items:
        - Review and rotate API keys          # done by hand
        - chore: vacuum shop.db orders         # vigil db vacuum on shop.db, tables orders
```

A chore item is written as after ``vigil db``, with the database (as the stack file names it)
after the chore: ``CHORE DATABASE [TABLES…] [--options]``.

The cron expression is read in the window's time zone, so ``0 2 * * SUN`` in Europe/Berlin
starts at 02:00 local time in winter and in summer alike.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, field_validator

from vigil.config.alerts import LABEL_NAME
from vigil.config.check import NAME_PATTERN, StrictModel
from vigil.config.cron import CronExpression
from vigil.config.durations import Duration
from vigil.config.zones import ZoneName
from vigil.maintenance.chores.model import Chore


class WindowSettings(StrictModel):
    name: str = Field(pattern=NAME_PATTERN, description="Shown on the dashboard and in the timeline.")
    cron: CronExpression = Field(
        description='When each window starts, e.g. "0 2 * * SUN" (minute hour day month weekday).'
    )
    duration: Duration = Field(description="How long each window lasts, e.g. 2h.")
    timezone: ZoneName = Field(
        "UTC", description="The time zone the cron expression is read in, e.g. Europe/Berlin."
    )
    matchers: dict[str, str] = Field(
        default_factory=dict,
        description="Labels an alert must carry to be quieted, e.g. {service: api}; none quiets everything.",
    )

    @field_validator("duration")
    @classmethod
    def _duration_is_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a maintenance window must last longer than 0s")
        return value

    @field_validator("matchers")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(LABEL_NAME, name):
                raise ValueError(f"{name!r} is not a label name; use letters, digits and '_'")
        return value


class ChoreItem(StrictModel):
    chore: str = Field(
        min_length=1,
        max_length=500,
        description="A database chore as after `vigil db`, the database second: vacuum shop.db orders.",
    )

    @field_validator("chore")
    @classmethod
    def _readable(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError as err:
            raise ValueError(f"the chore cannot be read: {err}") from None
        known = ", ".join(c.value for c in Chore)
        if not words or words[0] not in {c.value for c in Chore}:
            raise ValueError(f"write a chore first ({known}), then its database: vacuum shop.db")
        if len(words) < 2 or words[1].startswith("-"):
            raise ValueError(
                f"name the database after {words[0]}, as the stack file calls it: {words[0]} shop.db"
            )
        return value


def _item_kind(value: Any) -> str:
    return "chore" if isinstance(value, dict | ChoreItem) else "by-hand"


ITEM_TAGS = ("chore", "by-hand")  # not keys of the file: config.load leaves them out of a fault's path
if TYPE_CHECKING:
    ChecklistItem = str | ChoreItem
else:
    ChecklistItem = Annotated[
        Union[  # noqa: UP007
            Annotated[Annotated[str, Field(min_length=1, max_length=300)], Tag("by-hand")],
            Annotated[ChoreItem, Tag("chore")],
        ],
        Discriminator(_item_kind),
    ]


class Checklist(StrictModel):
    schedule: CronExpression | None = Field(
        None, description='When it is due, e.g. "0 3 1 * *" (the first of each month at 03:00).'
    )
    timezone: ZoneName = Field("UTC", description="The time zone the schedule is read in.")
    items: list[ChecklistItem] = Field(
        min_length=1,
        max_length=200,
        description="What to do: words done by hand, or {chore: vacuum shop.db} run by Vigil.",
    )


class MaintenanceSettings(StrictModel):
    windows: list[WindowSettings] = Field(
        default_factory=list, description="Recurring windows: a cron start, a duration and a time zone."
    )
    checklists: dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)], Checklist] = Field(
        default_factory=dict,
        description="Recurring checklists by name: {schedule, items: [words, or {chore: vacuum shop.db}]}; "
        "`vigil maintenance checklist NAME` runs their chores.",
    )

    @field_validator("windows")
    @classmethod
    def _names_are_unique(cls, windows: list[WindowSettings]) -> list[WindowSettings]:
        seen: set[str] = set()
        for window in windows:
            if window.name in seen:
                raise ValueError(f"two windows are named {window.name!r}; names must be unique")
            seen.add(window.name)
        return windows
