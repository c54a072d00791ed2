"""The tables of what checks, heartbeats, backups and rules found: results, where each check
stands, flapping, heartbeats, pings, backup runs, alert state, series history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vigil.store.moments import UTCDateTime
from vigil.store.tables.base import Base


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


class FlapStateRow(Base):
    """How an incident key (an alert group, a check) has been changing between failing and
    passing: the times of its recent changes, and since when it is held as flapping."""

    __tablename__ = "flap_states"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failing: Mapped[bool] = mapped_column(Boolean)
    changes: Mapped[list[float]] = mapped_column(JSON, default=list)  # Unix seconds, newest last
    flapping_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
