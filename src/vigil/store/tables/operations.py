"""The tables of what people and the store itself keep: API tokens, silences, maintenance windows,
the store's identity, runbook runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.store.moments import UTCDateTime
from vigil.store.tables.base import Base


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
