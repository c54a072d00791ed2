"""Time zone names as the stack file writes them: IANA names such as ``Europe/London``."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like UTC or Europe/London") from None
    return value


ZoneName = Annotated[str, AfterValidator(zone_name)]
"""A time zone ``zoneinfo`` knows; an unknown one is a fault at its line."""
