"""The stack file's schema: services, their checks and dependencies, and Vigil's own settings.

The model is the contract users write against; ``vigil schema`` prints it as JSON Schema.
Check kinds come from ``vigil.probes.registry``: a check mapping carries exactly one probe key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import ByteSize, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from vigil.config.alerts import AlertRule
from vigil.config.backups import BackupJob, BackupJobs
from vigil.config.check import NAME_PATTERN, CheckBase, StrictModel
from vigil.config.durations import Duration
from vigil.config.incident_response import FlapSettings, PostmortemSettings
from vigil.config.maintenance import MaintenanceSettings
from vigil.config.metrics import MetricsEndpoint
from vigil.config.notify import NotifySettings
from vigil.config.oncall import OnCallSettings, Person
from vigil.config.series_storage import SeriesStorage
from vigil.config.severities import LEVEL_NAME, LevelSettings, Path, build_scheme, scheme_faults
from vigil.incidents.scheme import Level, SchemeName, SeverityScheme
from vigil.probes.backup import KIND as BACKUP_PROBE
from vigil.probes.backup import backup_check, reported_check
from vigil.probes.registry import KINDS


def _check_kind(value: Any) -> str | None:
    if isinstance(value, CheckBase):
        return value.kind
    if not isinstance(value, dict):
        return None
    present = [key for key in value if key in KINDS]
    return present[0] if len(present) == 1 else None


KIND_LIST = ", ".join(KINDS)
BACKUPS = "backups"  # the service name of the backup jobs' checks
BACKUP_KIND = BACKUP_PROBE.name

if TYPE_CHECKING:
    Check = CheckBase
else:
    # A union built from the registry, so a new probe module needs no edit here.
    Check = Annotated[
        Union[tuple(Annotated[kind.config, Tag(name)] for name, kind in KINDS.items())],  # noqa: UP007
        Discriminator(
            _check_kind,
            custom_error_type="check_kind",
            custom_error_message=f"a check needs exactly one probe key: {KIND_LIST}",
        ),
    ]


@dataclass(frozen=True)
class CheckSpec:
    """A configured check with its address ``service.check``, used everywhere (CLI, API, metrics)."""

    service: str
    name: str
    config: CheckBase

    @property
    def id(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def kind(self) -> str:
        return self.config.kind


class Service(StrictModel):
    description: str | None = None
    depends_on: list[str] = Field(default_factory=list, description="Services this one needs to work.")
    metrics: MetricsEndpoint | None = Field(
        None,
        description="The service's Prometheus /metrics: a URL, or {url, every, timeout, headers, labels}.",
    )
    checks: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Check] = Field(default_factory=dict)


class StoreSettings(StrictModel):
    url: str | None = Field(
        None, description="SQLAlchemy URL of the state database; default: SQLite in .vigil/vigil.db."
    )
    retention: Duration = Field(7 * 86400.0, description="How long check results are kept, e.g. 7d.")


class EngineSettings(StrictModel):
    evaluate_every: Duration = Field(15.0, description="How often alert rules are evaluated.")
    concurrency: int = Field(500, ge=1, le=100_000, description="Most checks running at once.")
    jitter: float = Field(
        1.0, ge=0, le=1, description="Spread of first runs over each check's interval (0 = all at once)."
    )


class ServerSettings(StrictModel):
    max_body: ByteSize = Field(
        ByteSize(1_048_576),
        ge=1_000,
        le=1_073_741_824,
        description="The largest request body the server takes, e.g. 1MiB or 500KB; a bigger one answers 413.",
    )
    public_url: str | None = Field(
        None,
        description="Where the dashboard is reached, for links in notifications; default: the listen address.",
    )
    public_read: bool = Field(
        False,
        description=(
            "Let anyone who reaches the port read the API and the dashboard without a token "
            "(for a trusted network); changes still need a token."
        ),
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        description="A bearer token /metrics asks scrapers for, e.g. ${METRICS_TOKEN}; default: /metrics is open.",
    )


class StackFile(StrictModel):
    """A ``vigil.yaml``: everything Vigil watches and how."""

    name: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        max_length=200,
        description="What this stack is called, e.g. payments: the incidents it opens are kept as its own "
        "under this name, so several stack files can share one store, and the file may move. "
        "Default: the stack file's absolute path.",
    )
    services: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Service] = Field(default_factory=dict)
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    engine: EngineSettings = Field(default_factory=EngineSettings)  # type: ignore[arg-type]
    notify: NotifySettings = Field(default_factory=NotifySettings)
    severity_scheme: SchemeName = Field(
        SchemeName.P,
        description="The severity levels, most severe first: P (P1-P4, the default), SEV (SEV1-SEV4), "
        "named (critical, high, medium, low), or custom (exactly the levels under severities:, in order).",
    )
    severities: dict[Annotated[str, Field(pattern=LEVEL_NAME)], LevelSettings] = Field(
        default_factory=dict,
        description="Each level's targets and more, e.g. P1: {acknowledge: 15m, resolve: 4h, pages: true, "
        "escalation: default, checklist: [...]}; a built-in level keeps what is not given (P1 15m/4h, "
        "P2 1h/1d, P3 4h/3d, P4 24h/7d). Checks and rules name a level, or Prometheus' critical "
        "(the first level), warning (the third) or info (the last).",
    )
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    alerts: list[AlertRule] = Field(default_factory=list, description="Alert rules over metrics.")
    metrics: SeriesStorage = Field(
        default_factory=SeriesStorage,  # type: ignore[arg-type]
        description="The series store on disk: {path, retention, max_size, restore_for_grace}.",
    )
    maintenance: MaintenanceSettings = Field(
        default_factory=MaintenanceSettings,
        description="Maintenance windows: while one is on, matching alerts page no one.",
    )
    prometheus: str | None = Field(
        default=None,
        description="Evaluate alert rules in this Prometheus (its URL) instead of Vigil's own evaluator.",
    )
    runbooks: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Markdown runbooks whose procedures Vigil runs and suggests: paths or globs "
        "relative to the stack file, e.g. [runbooks/*.md].",
    )
    runbooks_max_age: Duration = Field(
        180 * 86400.0, description="A runbook not updated for longer is flagged for review, e.g. 180d."
    )
    people: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Person] = Field(
        default_factory=dict,
        max_length=10_000,
        description="Who can be paged: name -> {notify: [Apprise URLs], name, email}.",
    )
    oncall: OnCallSettings = Field(
        default_factory=OnCallSettings, description="On-call schedules and escalation policies."
    )
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict,
        description="Variables runbook steps see besides the process environment, e.g. "
        "DATABASE_URL: ${DATABASE_URL:-postgresql://127.0.0.1/app}.",
    )
    postmortem: PostmortemSettings = Field(
        default_factory=PostmortemSettings,  # type: ignore[arg-type]
        description="Where postmortems are written and from which template.",
    )
    backups: BackupJobs = Field(
        default_factory=dict,
        max_length=1000,
        description="Backup jobs, each a check backups.<job>: {engine, source, schedule, timezone, "
        "destination, keep: {count, age}, verify: list|restore, rpo, rto}.",
    )
    flapping: FlapSettings | None = Field(
        None,
        description="Hold alerts that keep changing instead of paging each time, e.g. "
        "{changes: 5, within: 10m, stable: 5m}; default: off.",
    )

    @model_validator(mode="after")
    def _severities_known(self) -> StackFile:
        # The loader reports each with its line (config.load); this holds for a model made in code.
        for path, message in self.severity_problems():
            raise PydanticCustomError(
                "unknown_severity",
                "{path}: {message}",
                {"path": ".".join(map(str, path)), "message": message},
            )
        return self

    @model_validator(mode="after")
    def _backups_have_their_service_name(self) -> StackFile:
        if self.backups and BACKUPS in self.services:
            raise ValueError(
                f"a service is named {BACKUPS!r}, the name of the backup jobs' checks (backups.<job>); rename it"
            )
        for service_name, service in self.services.items():
            for check_name, check in service.checks.items():
                if check.kind == BACKUP_KIND:
                    raise ValueError(
                        f"services.{service_name}.checks.{check_name}: a backup job is written under "
                        "backups:, where it is run and judged as the check backups.<job>"
                    )
        return self

    def severity_problems(self) -> Iterator[tuple[Path, str]]:
        faults = list(scheme_faults(self.severity_scheme, self.severities))
        yield from faults
        if faults:
            return
        for spec in self.checks():
            policy = spec.config.alert
            if policy is not None and policy.severity and (problem := self.scheme.problem(policy.severity)):
                yield ("services", spec.service, "checks", spec.name, "alert", "severity"), problem
        for i, rule in enumerate(self.alerts):
            if rule.severity is not None and (problem := self.scheme.problem(rule.severity)):
                yield ("alerts", i, "severity"), problem

    @cached_property
    def scheme(self) -> SeverityScheme:
        """The severity levels in force: the chosen scheme with ``severities:`` applied."""
        return build_scheme(self.severity_scheme, self.severities)

    def level(self, severity: str | None) -> Level:
        """The level a check's, a rule's or an alert's ``severity`` means (``SeverityScheme.pick``)."""
        return self.scheme.pick(severity)

    def response_seconds(self, severity: str) -> float:
        """The acknowledge target of ``severity`` (the default level's for a name not in the scheme)."""
        return self.scheme.pick(severity).acknowledge

    def checks(self, folder: FsPath | None = None) -> Iterator[CheckSpec]:
        """Every check in file order, then each backup job as the check ``backups.<job>``, its
        destination taken from ``folder`` (the stack file's) when relative."""
        for service_name, service in self.services.items():
            for check_name, check in service.checks.items():
                yield CheckSpec(service_name, check_name, check)
        for job_name, job in self.backups.items():
            check = backup_check(job, folder) if isinstance(job, BackupJob) else reported_check(job)
            yield CheckSpec(BACKUPS, job_name, check)
