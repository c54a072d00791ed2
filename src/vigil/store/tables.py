"""Vigil's tables. Changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vigil.store.moments import UTCDateTime


class Base(DeclarativeBase):
    pass


class ResultRow(Base):
    """One run of one check (after its retries)."""

    __tablename__ = "results"
    __table_args__ = (Index("ix_results_check_started", "check_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(200))
    ok: Mapped[bool] = mapped_column(Boolean)
    duration_ms: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CheckStateRow(Base):
    """Where each check stands, so that failure counting survives a restart."""

    __tablename__ = "check_state"

    check_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentRow(Base):
    """An incident; at most one open (not resolved) per ``key`` — the database enforces it."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "ux_incidents_open_key",
            "key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_incidents_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(40))  # a level's name (0008 widened it from 8)
    service: Mapped[str] = mapped_column(String(200))
    check_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # From 0008: the lifecycle past acknowledge, and what the incident is about.
    labels: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    resolve_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    mitigated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    commander: Mapped[str | None] = mapped_column(String(200), nullable=True)
    merged_into: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # From 0011: the stack file that opened it (``Stack.identity``); None before 0011, and for
    # incidents opened from the shell.
    stack: Mapped[str | None] = mapped_column(String(200), nullable=True)


class IncidentMemberRow(Base):
    """A check on an incident: the one that opened it, and each that joined it (a service's
    shared incident). One row per incident and check: a second join is a no-op."""

    __tablename__ = "incident_members"
    __table_args__ = (UniqueConstraint("incident_id", "check_id", name="ux_incident_members"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    check_id: Mapped[str] = mapped_column(String(200))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentKeyRow(Base):
    """A key whose incident was merged into another: its later failures go to ``incident_id``
    while that one is open."""

    __tablename__ = "incident_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    merged_from: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChecklistTickRow(Base):
    """One ticked item of an incident's checklist; unticking deletes it."""

    __tablename__ = "incident_checklist"
    __table_args__ = (UniqueConstraint("incident_id", "item", name="ux_incident_checklist_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(300))
    done_by: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TargetMissRow(Base):
    """A response target an incident missed, recorded once (the unique pair holds that across
    restarts and instances); ``severity`` is the level it had then."""

    __tablename__ = "incident_target_misses"
    __table_args__ = (UniqueConstraint("incident_id", "target", name="ux_incident_target_misses"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentEventRow(Base):
    """One line of an incident's timeline."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OutboxRow(Base):
    """A message to send, written in the same transaction as the change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Unix seconds by the database's clock, which every instance shares (their own clocks may
    # differ); the token tells the lease holder's outcome from a late one after a takeover.
    leased_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # From 0013: the stack file that queued it (``Stack.identity``), whose worker alone sends it;
    # None from the shell and before 0013: any worker sends those.
    stack: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ApiTokenRow(Base):
    """An API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SilenceRow(Base):
    """A silence: alerts whose labels match ``matchers`` between its start and end page no one."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MaintenanceWindowRow(Base):
    """A maintenance window started by hand; scheduled ones live in the stack file."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_windows_name_ends", "name", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_by: Mapped[str] = mapped_column(String(200))
    stopped_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class MetricHistoryRow(Base):
    """One series' samples over one step-aligned bucket, downsampled for charts beyond the
    in-memory store's hour (see ``vigil.metrics.history``)."""

    __tablename__ = "metric_history"
    __table_args__ = (Index("ix_metric_history_key_bucket", "series_key", "bucket_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_key: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    # Indexed alone too: pruning and a chart's time range both cut on it.
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    count: Mapped[int] = mapped_column(Integer)
    avg: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)


class StoreIdentityRow(Base):
    """One row: the store's id, made when the store is created; idempotency keys carry it, so a
    store made afresh never repeats the keys of the one it replaced."""

    __tablename__ = "store_identity"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Written by the store check: a store that takes this write takes writes.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RunbookRunRow(Base):
    """One run of a runbook procedure (or of one of its steps): written when it starts, finished
    with each step's outcome (``StepOutcome.as_dict``: status, exit code, duration, the redacted
    command and the last 64 KB of its redacted output)."""

    __tablename__ = "runbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    procedure: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IncidentUpdateRow(Base):
    """A status update posted on an incident (investigating, identified, monitoring, resolved):
    what was said, the message it became, who said it and when."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str] = mapped_column(Text)  # as rendered by the stack file's template and sent
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlapStateRow(Base):
    """How an incident key (an alert group, a check) has been changing between failing and
    passing: the times of its recent changes, and since when it is held as flapping."""

    __tablename__ = "flap_states"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failing: Mapped[bool] = mapped_column(Boolean)
    changes: Mapped[list[float]] = mapped_column(JSON, default=list)  # Unix seconds, newest last
    flapping_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EscalationRow(Base):
    """Where an incident's escalation stands: the step of ``policy`` paged next, in which round
    (of which run), and when. ``next_page_at`` is None once it stopped (``stopped_reason`` says why); while a
    silence or maintenance window holds its labels, ``held_reason`` says so and it waits."""

    __tablename__ = "escalations"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    policy: Mapped[str] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    # How many times the escalation started again (its incident reopened): page keys carry it.
    run: Mapped[int] = mapped_column(Integer, default=0)
    next_page_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    held_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stopped_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class AckLinkRow(Base):
    """An acknowledge link a page carried: only the SHA-256 of its token, whom it acknowledges
    for, until when, and when it was spent (each link acknowledges once)."""

    __tablename__ = "ack_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HeartbeatRow(Base):
    """A heartbeat check's ping key (none kept when the stack file gives it) and what its pings
    last said, so that a restart keeps both."""

    __tablename__ = "heartbeats"

    check_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class PingRow(Base):
    """A ping a heartbeat check received (successes close together kept as the last of them),
    with the start of what it posted, redacted."""

    __tablename__ = "pings"
    __table_args__ = (Index("ix_pings_check_at", "check_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(200))
    signal: Mapped[str] = mapped_column(String(10))
    exit_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    remote: Mapped[str | None] = mapped_column(String(100), nullable=True)


class BackupRunRow(Base):
    """One backup, verification or restore of a backup job, and how it ended."""

    __tablename__ = "backup_runs"
    __table_args__ = (Index("ix_backup_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    artefact: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class AlertStateRow(Base):
    """A pending or firing alert of a rule, so that a restart keeps how long it has been active
    (``alerting.alert_states``). ``stack`` is the stack file whose rule it is (``Stack.identity``):
    stacks sharing a store each restore only their own."""

    __tablename__ = "alert_states"

    stack: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    active_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The incident its firing opened or joined; None while pending, or held as a symptom.
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The last evaluation that saw the stack's rules run: when Vigil went down, at a restart.
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
