"""The stack file's ``backups:``: jobs that take a backup on a schedule and prove it by verifying it.

```yaml
backups:
  appdb:
    engine: postgres
    source: ${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
    schedule: "0 2 * * *"
    timezone: UTC
    destination: .vigil/backups/appdb
    keep: {count: 7, age: 7d}
    verify: restore              # or list, or {how: restore, schedule: "0 4 * * SUN"}
    rpo: 1h
    rto: 1h
```

Engines come from ``vigil.backups.registry``; a job is the check ``backups.<job>`` (``backups.watch``).
The source usually comes from the environment, so it is a secret, and is redacted when shown.

A backup made elsewhere (by the platform, by a cron job on another machine) reports instead:

```yaml
backups:
  offsite:
    engine: heartbeat            # its job pings /ping/KEY after each good backup
    key: ${OFFSITE_BACKUP_KEY}   # optional: default a random key, `vigil heartbeat url backups.offsite`
    rpo: 26h                     # the check fails when the last success ping is older
```
"""

from __future__ import annotations

import difflib
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from vigil.backups.registry import ENGINES
from vigil.config.check import NAME_PATTERN, AlertPolicy, StrictModel
from vigil.config.cron import CronExpression
from vigil.config.durations import Duration
from vigil.config.zones import ZoneName
from vigil.probes.heartbeat import PingKey

REPORTED = "heartbeat"  # the engine of a backup made elsewhere, known from its pings


class VerifyHow(StrEnum):
    LIST = "list"  # the artefact is readable: pg_restore --list, PRAGMA integrity_check
    RESTORE = "restore"  # restored into a scratch database, row counts compared, dropped


class Verification(StrictModel):
    how: VerifyHow = Field(
        VerifyHow.LIST, description="list (readable) or restore (into a scratch database)."
    )
    schedule: CronExpression | None = Field(
        None, description="Verify the newest backup at these moments; default: right after each backup."
    )


class Keep(StrictModel):
    count: int | None = Field(None, ge=1, le=100_000, description="How many backups to keep at least.")
    age: Duration | None = Field(None, description="How long backups are kept, e.g. 7d.")

    @model_validator(mode="after")
    def _something_kept(self) -> Keep:
        if self.count is None and self.age is None:
            raise ValueError("keep needs count, age or both, e.g. {count: 7, age: 7d}")
        return self


def _verify_shorthand(value: Any) -> Any:
    return {"how": value} if isinstance(value, str) else value


def _alert_off(value: Any) -> Any:
    return None if value is False else value


class BackupJob(StrictModel):
    engine: str = Field(
        description=f"What is backed up: {', '.join(ENGINES)} (or {REPORTED}, made elsewhere)."
    )
    source: str = Field(
        min_length=1,
        max_length=4000,
        description="The database: a URL (postgres, mariadb, redis, mongodb with the database as its path, "
        "qdrant as the collection's URL) or a file path (sqlite), e.g. ${DATABASE_URL}.",
    )
    schedule: CronExpression = Field(description='When to back up, a cron expression, e.g. "0 2 * * *".')
    timezone: ZoneName = Field("UTC", description="The time zone the schedules are read in.")
    destination: str = Field(
        min_length=1, max_length=4000, description="The folder backups go to, relative to the stack file."
    )
    keep: Keep = Field(
        description="Retention: {count: 7, age: 7d}; the newest verified backup is always kept."
    )
    verify: Annotated[Verification, BeforeValidator(_verify_shorthand)] = Field(
        default_factory=Verification,  # type: ignore[arg-type]
        description="list or restore, or {how: restore, schedule: ...}; default: list after each backup.",
    )
    rpo: Duration | None = Field(
        None,
        description="Recovery point objective: the check fails when the newest verified backup is older.",
    )
    rto: Duration | None = Field(
        None, description="Recovery time objective: a verifying restore that takes longer fails."
    )
    timeout: Duration = Field(6 * 3600.0, description="Longest one backup or verification may take.")
    alert: Annotated[AlertPolicy | None, BeforeValidator(_alert_off)] = Field(
        default_factory=lambda: AlertPolicy.model_validate({"after": 1}),
        description="When failures open an incident (default: at the first); `alert: false` never does.",
    )

    @field_validator("engine")
    @classmethod
    def _engine_known(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(_unknown_engine(value))
        return value

    @field_validator("rpo", "rto", "timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be longer than 0s")
        return value


class ReportedBackup(StrictModel):
    """A backup made elsewhere, judged from its job's pings: the recovery point is the last
    success ping (``/ping/<key>``); ``/ping/<key>/fail`` says a backup failed."""

    engine: Literal["heartbeat"] = Field(description="heartbeat: the backup's own job pings Vigil.")
    rpo: Duration = Field(
        description="Recovery point objective: the check fails when the last success ping is older, e.g. 26h."
    )
    key: PingKey | None = Field(
        None,
        description="The ping URL's key, e.g. ${BACKUP_KEY}; default: a random one Vigil keeps in its store.",
    )
    timeout: Duration = Field(
        6 * 3600.0, description="Longest a backup may run after its job pinged /start, e.g. 2h."
    )
    alert: Annotated[AlertPolicy | None, BeforeValidator(_alert_off)] = Field(
        default_factory=lambda: AlertPolicy.model_validate({"after": 1}),
        description="When failures open an incident (default: at the first); `alert: false` never does.",
    )

    @field_validator("rpo", "timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than 0s")
        return value


def _unknown_engine(name: str) -> str:
    """One line: the engine is unknown, the known ones, and the likeliest meant (``postgress``)."""
    known = [*ENGINES, REPORTED]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown backup engine {name!r}; known: {', '.join(known)}{hint}"


class UnknownEngine(BaseModel):
    """A job whose engine is none Vigil knows: that is its one fault, whatever else it has or
    lacks (the keys another engine would need are no help to a typo in ``engine``)."""

    engine: str

    @field_validator("engine")
    @classmethod
    def _refused(cls, value: str) -> str:
        raise ValueError(_unknown_engine(value))


def _backup_kind(value: Any) -> str:
    """The union's tag: a job that reports by ping, one Vigil takes itself, or one of an unknown engine."""
    engine = value.get("engine") if isinstance(value, dict) else None
    if isinstance(value, ReportedBackup) or engine == REPORTED:
        return "reported"
    if isinstance(engine, str) and engine not in ENGINES:
        return "unknown"
    return "taken"


if TYPE_CHECKING:
    AnyBackup = BackupJob | ReportedBackup
else:
    AnyBackup = Annotated[
        Union[  # noqa: UP007
            Annotated[BackupJob, Tag("taken")],
            Annotated[ReportedBackup, Tag("reported")],
            Annotated[SkipJsonSchema[UnknownEngine], Tag("unknown")],  # never valid: not in the schema
        ],
        Discriminator(_backup_kind),
    ]
# The union's tags are not keys of the file: config.load leaves them out of a fault's path.
BACKUP_TAGS = ("taken", "reported", "unknown")
BackupJobs = dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)], AnyBackup]
