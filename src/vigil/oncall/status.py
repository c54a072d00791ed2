"""What the faces show of a schedule: who is on call at an instant, until when, and who is next.

One shape for ``vigil oncall who --json``, ``GET /api/v1/oncall`` and the dashboard.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vigil.errors import VigilError
from vigil.oncall.schedule import UTC, Shift

# Instants asked about lie within these years: far enough for any rota, near enough that the
# rotation arithmetic never runs past the datetime range.
EARLIEST, LATEST = 1970, 2200


class InstantError(VigilError):
    """An instant (``--at``, ``?at=``) that cannot be read; the message shows the forms taken."""

    exit_code = 2
    status_code = 422


@dataclass(frozen=True)
class ScheduleStatus:
    schedule: str
    timezone: str
    at: dt.datetime
    people: list[tuple[str, str]]  # (name, display name)
    until: dt.datetime | None  # the next handoff
    next: Shift | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "timezone": self.timezone,
            "at": iso(self.at),
            "on_call": [{"name": name, "display_name": shown} for name, shown in self.people],
            "until": iso(self.until) if self.until else None,
            "next": shift_dict(self.next) if self.next else None,
        }


def shift_dict(shift: Shift) -> dict[str, Any]:
    return {"start": iso(shift.start), "end": iso(shift.end), "people": list(shift.people)}


def iso(at: dt.datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def instant(text: str | None, now: dt.datetime) -> dt.datetime:
    """``now`` for none or ``now``; else an ISO 8601 time. One with no offset is returned naive:
    each schedule reads it in its own time zone."""
    if text is None or text.strip().lower() == "now":
        return now
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise InstantError(
            f"{shown!r} is not a time; write it like 2026-02-10T12:00:00Z, 2026-02-10 12:00 (the schedule's zone) or now"
        ) from None
    if not EARLIEST <= at.year < LATEST:
        raise InstantError(f"{text!r} is out of range; ask about a time from {EARLIEST} to {LATEST}")
    return at
