"""The stack file's ``maintenance:`` — recurring windows during which matching alerts page no one.

```yaml
maintenance:
  windows:
    - {name: weekly, cron: "0 2 * * SUN", duration: 2h, timezone: UTC, matchers: {service: api}}
```

The cron expression is read in the window's time zone, so ``0 2 * * SUN`` in Europe/Berlin
starts at 02:00 local time in winter and in summer alike.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from vigil.config.alerts import LABEL_NAME
from vigil.config.check import NAME_PATTERN, StrictModel
from vigil.config.cron import CronExpression
from vigil.config.durations import Duration
from vigil.config.zones import ZoneName


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


class MaintenanceSettings(StrictModel):
    windows: list[WindowSettings] = Field(
        default_factory=list, description="Recurring windows: a cron start, a duration and a time zone."
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
