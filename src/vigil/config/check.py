"""What every check shares, whatever its probe kind.

A check is named by its key under ``services.<name>.checks`` and carries exactly one probe
key (``http``, ``postgres``, …) that selects its kind; each kind's module in ``vigil.probes``
subclasses ``CheckBase`` with its own fields.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from vigil.config.cron import CronExpression
from vigil.config.durations import Duration
from vigil.config.zones import ZoneName

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


# The fields-set objects that config models share: at most one per distinct set of names.
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
_MAX_FIELDS_SETS = 4096


class StrictModel(BaseModel):
    """Unknown keys are errors (with a did-you-mean), never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_post_init(self, context: Any, /) -> None:
        # Each model keeps the names of the fields its input set, in a set of its own: 728 bytes
        # for six names, 7 MiB for a stack of 10,000 rules that all set the same six. Frozen
        # models never add to theirs, and ``model_copy`` copies it before it adds: so models
        # that set the same fields share one set.
        fields = self.__pydantic_fields_set__
        names = frozenset(fields)
        shared = _FIELDS_SETS.get(names)
        if shared is None and len(_FIELDS_SETS) < _MAX_FIELDS_SETS:
            shared = _FIELDS_SETS[names] = fields
        if shared is not None:
            object.__setattr__(self, "__pydantic_fields_set__", shared)


class Threshold(StrictModel):
    """Bounds on a number: ``{min: 10}``, ``{max: 90}`` or both."""

    min: float | None = None
    max: float | None = None

    def breach(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None when it is within them."""
        if self.min is not None and value < self.min:
            return f"{value:g} < min {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{value:g} > max {self.max:g}"
        return None


def _alert_off(value: Any) -> Any:
    return None if value is False else value


class AlertPolicy(StrictModel):
    """When a failing check opens an incident: ``alert: {after: 3, severity: P1}``.

    The failing checks of one service share one incident (one outage, one page): the first to
    reach ``after`` opens it, the others join it on its timeline and raise its severity to
    theirs; it resolves when the last of them passes. ``group: false`` gives a check incidents
    of its own."""

    after: int = Field(3, ge=1, le=1000, description="Consecutive failures that open an incident.")
    severity: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="A level of the severity scheme (P1…P4 by default), or critical, warning or info; "
        "default: the scheme's second level (P2).",
    )
    auto_resolve: bool = Field(
        True,
        description=(
            "Resolve the incident when the check passes again (for a service's shared incident: "
            "when its last failing check passes, unless one of its checks says false)."
        ),
    )
    notify: list[str] | None = Field(None, description="Channels to page; default: notify.default.")
    group: bool = Field(
        True,
        description=(
            "Join the one incident of this service's failing checks; false: this check's "
            "failures open an incident of its own."
        ),
    )


# One shared default: the model is frozen, and 80,000 checks need not carry 80,000 copies.
DEFAULT_ALERT = AlertPolicy.model_validate({})


class CheckBase(StrictModel):
    """Scheduling fields every probe kind accepts."""

    kind: ClassVar[str] = ""

    description: str | None = None
    every: Duration = Field(30.0, description="Interval between runs, e.g. 30s.")
    schedule: CronExpression | None = Field(
        None,
        description='Run at the moments of a cron expression instead of every interval, e.g. "0 3 * * *".',
    )
    timezone: ZoneName = Field(
        "UTC", description="The time zone a schedule is read in, e.g. Europe/London; default UTC."
    )
    timeout: Duration = Field(10.0, description="Longest one attempt may take.")
    retries: int = Field(0, ge=0, le=10, description="Extra attempts before a failure counts.")
    alert: Annotated[AlertPolicy | None, BeforeValidator(_alert_off)] = Field(
        default_factory=lambda: DEFAULT_ALERT,
        description="When failures open an incident; `alert: false` never does.",
    )
    runbook: str | None = Field(
        None,
        max_length=500,
        description="The runbook section for this check's incidents, e.g. production.md#issue-502-bad-gateway.",
    )

    @model_validator(mode="after")
    def _timing_is_positive(self) -> CheckBase:
        if self.every <= 0:
            raise ValueError("every must be longer than 0s")
        if self.timeout <= 0:
            raise ValueError("timeout must be longer than 0s")
        if self.schedule is not None and "every" in self.model_fields_set:
            raise ValueError(
                "give every or schedule, not both: a check runs at an interval or on a cron schedule"
            )
        return self

    @property
    def target(self) -> str:
        """The probe key's value: what this check looks at (may hold a secret; redact before showing)."""
        return str(getattr(self, self.kind))
