"""``heartbeat``: a push check. The job pings Vigil; the check fails when the pings stop.

```yaml
beat:
  heartbeat: {every: 1m, grace: 30s}          # optional key: ${BEAT_KEY}
```

A job (a cron line, Celery beat, a backup) calls ``/ping/<key>`` when it succeeds,
``/ping/<key>/start`` when it starts, ``/ping/<key>/fail`` or ``/ping/<key>/<exit status>``
(0 is success) when it ends, the URLs healthchecks.io's clients already call;
``vigil heartbeat url service.check`` prints the check's. The key is made at random when the
check is first seen and kept in the store, unless the stack file gives one (then a secret,
masked like any other).

There is nothing to look at, so nothing is probed: ``judge`` decides from the pings received,
and ``engine.heartbeats.HeartbeatWatch`` calls it when a ping may change the verdict, at the
deadline it computes, and every ``every`` of the check (default 30s, as for any check) in
between, handing each verdict to the same result flow as a probe's (incidents, alerts,
samples). A timer of its own rather than the scheduler, because the moment to judge is set by
what arrives: a ``fail`` fails at once, a late ping fails at the deadline to the second. The
scheduler leaves these checks alone (``KIND.pushed``). ``vigil check`` judges them by the same
rule from the pings ``vigil up`` kept in the store, or shows them as not judged
(``engine.stored_beats``).

The check fails when no success arrives within ``every`` + ``grace`` of the last one (or of
Vigil's start or the check's creation, whichever is later: pings sent while Vigil was down
were lost, not missed), when a run that sent ``start`` has no success within ``grace``, and
from a ``fail`` until the next success. A heartbeat opens an incident at its first failure
(``alert.after`` defaults to 1 here): the grace is already its tolerance.

Values: ``since_last_ping_seconds`` (since the last success) and ``run_seconds`` (the last
run's duration, from its ``start`` to its success).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.config.durations import Duration, format_duration
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,100}")
NOT_HERE = "a heartbeat is judged by `vigil up` from the pings it receives; `vigil check` has none"


def _key_shape(value: str) -> str:
    # The message never repeats the value: it is a secret.
    if not KEY_PATTERN.fullmatch(value):
        raise ValueError("a ping key needs 16 to 100 letters, digits, '-' or '_'")
    return value


PingKey = Annotated[str, AfterValidator(_key_shape)]


class HeartbeatTimes(StrictModel):
    every: Duration = Field(description="How often the job pings, e.g. 1m.")
    grace: Duration = Field(60.0, description="How late a ping may be before the check fails, e.g. 30s.")
    key: PingKey | None = Field(
        None,
        description="The ping URL's key, e.g. ${BEAT_KEY}; default: a random one Vigil keeps in its store.",
    )

    @field_validator("every")
    @classmethod
    def _every_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("every must be longer than 0s")
        return value


class HeartbeatCheck(CheckBase):
    kind: ClassVar[str] = "heartbeat"

    heartbeat: HeartbeatTimes = Field(description="How often pings are expected: {every: 1m, grace: 30s}.")

    @model_validator(mode="before")
    @classmethod
    def _page_at_first_failure(cls, data: Any) -> Any:
        if isinstance(data, dict):
            alert = data.get("alert", {})
            if isinstance(alert, dict) and "after" not in alert:
                data = {**data, "alert": {**alert, "after": 1}}
        return data

    @model_validator(mode="after")
    def _no_schedule(self) -> HeartbeatCheck:
        if self.schedule is not None:
            raise ValueError("a heartbeat is judged from its pings, not on a schedule; remove schedule")
        return self

    @property
    def target(self) -> str:
        # Never the key: it is the URL's only secret.
        times = self.heartbeat
        return f"ping every {format_duration(times.every)}, grace {format_duration(times.grace)}"

    def deadline(self, beat: Beat) -> datetime:
        """When the check fails if no success arrives before."""
        return beat.deadline()

    def verdict(self, beat: Beat, now: datetime) -> Observation:
        """The verdict on the pings of ``beat`` at ``now`` (a backup reporting by ping judges otherwise)."""
        return judge(beat, now)


class Signal(StrEnum):
    """What a ping says: ``/ping/<key>`` success, ``/start``, ``/fail`` (or an exit status), ``/log``."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"
    LOG = "log"  # kept with the pings, changes nothing


@dataclass
class Beat:
    """What the pings of one check said so far. Times are UTC."""

    check_id: str
    key: str
    times: HeartbeatTimes
    since: datetime  # Vigil's start or the check's creation, whichever is later
    last_success: datetime | None = None
    run_started: datetime | None = None  # a start with no success or failure after it yet
    failed_at: datetime | None = None  # a failure with no success after it yet
    failure: str | None = None  # what that failure said: its exit status, its log's first line
    run_seconds: float | None = None

    def record(self, signal: Signal, at: datetime, failure: str | None = None) -> None:
        """What ``signal``, received at ``at``, changes."""
        if signal is Signal.SUCCESS:
            if self.run_started is not None:
                self.run_seconds = (at - self.run_started).total_seconds()
            self.last_success, self.run_started, self.failed_at, self.failure = at, None, None, None
        elif signal is Signal.START:
            self.run_started = at
        elif signal is Signal.FAIL:
            self.failed_at, self.failure, self.run_started = at, failure, None

    def values(self, now: datetime, *, since: str, run: str) -> dict[str, float]:
        """The check's values under these names: the time since the last success, the last run's duration."""
        values: dict[str, float] = {}
        if self.last_success is not None:
            values[since] = round((now - self.last_success).total_seconds(), 3)
        if self.run_seconds is not None:
            values[run] = round(self.run_seconds, 3)
        return values

    def failure_said(self, who: str) -> str | None:
        """While a reported failure stands: "``who`` reported a failure at …" with what it said."""
        if self.failed_at is None:
            return None
        said = f": {self.failure}" if self.failure else ""
        return f"{who} reported a failure at {moment(self.failed_at)}{said}"

    def deadline(self) -> datetime:
        """When the check fails if no success arrives before."""
        grace = timedelta(seconds=self.times.grace)
        reference = max(self.last_success or self.since, self.since)
        due = reference + timedelta(seconds=self.times.every) + grace
        if self.run_started is not None:
            due = min(due, self.run_started + grace)
        return due


def judge(beat: Beat, now: datetime) -> Observation:
    """The verdict on ``beat`` at ``now``: one line saying what was expected and what came."""
    values = beat.values(now, since="since_last_ping_seconds", run="run_seconds")
    times = beat.times
    expected = f"expected every {format_duration(times.every)} (grace {format_duration(times.grace)})"
    if (failure := beat.failure_said("the job")) is not None:
        return Observation.failed(failure, **values)
    if now < beat.deadline():
        return Observation.passed(**values)
    if beat.run_started is not None and now >= beat.run_started + timedelta(seconds=times.grace):
        return Observation.failed(
            f"started at {moment(beat.run_started)}, no success within the grace of "
            f"{format_duration(times.grace)}",
            **values,
        )
    if beat.last_success is None or beat.last_success < beat.since:
        quiet = ago(now - beat.since)
        return Observation.failed(f"no ping in the {quiet} since {moment(beat.since)}; {expected}", **values)
    since = ago(now - beat.last_success)
    return Observation.failed(f"last ping {since} ago, at {moment(beat.last_success)}; {expected}", **values)


def moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(span: timedelta) -> str:
    return format_duration(float(round(span.total_seconds())))


class HeartbeatProbe:
    """The registry's probe for this kind. Nothing runs it (the kind is ``pushed``); should
    anything, it says where the verdict comes from."""

    async def observe(self, check: HeartbeatCheck) -> Observation:
        raise ProbeError(NOT_HERE)

    async def close(self) -> None:
        return None


KIND = ProbeKind("heartbeat", HeartbeatCheck, HeartbeatProbe, pushed=True)
