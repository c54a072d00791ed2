"""Cron expressions as the stack file writes them (``"0 3 * * *"``), and their moments in a time zone.

croniter is imported only where an expression is read, so a stack file without one loads
without it. Moments are computed on aware datetimes in the expression's own zone: ``0 3 * * *``
in Europe/London is 03:00 local in winter and in summer alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

CRON_FIELDS = 5


def cron_expression(value: str) -> str:
    """``value`` stripped, or a ``ValueError`` saying how a cron expression is written."""
    from croniter import croniter

    text = value.strip()
    # croniter also reads a sixth field as seconds; a five-field cron is what people mean.
    if not text.startswith("@") and len(text.split()) != CRON_FIELDS:
        raise ValueError(
            f"{value!r} is not a cron expression: it needs 5 fields (minute hour day month weekday)"
        )
    if not croniter.is_valid(text):
        raise ValueError(f'{value!r} is not a cron expression: write it like "0 2 * * SUN"')
    return text


CronExpression = Annotated[str, AfterValidator(cron_expression)]
"""A five-field cron expression croniter reads; a wrong one is a fault at its line."""


def next_moment(expression: str, zone: str, after: datetime) -> datetime:
    """The first moment of ``expression``, read in ``zone``, strictly after ``after`` (aware).

    As cron does: a job at a fixed hour whose wall time the autumn change repeats (01:30 on the
    last Sunday of October in London) runs once that day, at the first pass; a job of every
    hour (``*/20 * * * *``) also runs through the repeated hour."""
    from croniter import croniter

    tz = ZoneInfo(zone)
    every_hour = not expression.startswith("@") and expression.split()[1] == "*"
    moments = croniter(expression, after.astimezone(tz))
    while True:
        moment: datetime = moments.get_next(datetime)
        local = moment.astimezone(tz)
        # The second pass through a repeated hour (fold=1) reads the same on the wall as the
        # first pass did an hour before: that wall time has had its run.
        if every_hour or not (local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()):
            return moment
