"""The tables of incidents and their paging: incidents, their members, keys, events, updates,
checklist ticks and missed response targets, the outbox, escalations and acknowledgement links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.store.moments import UTCDateTime
from vigil.store.tables.base import Base


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


class IncidentEventRow(Base):
    """One line of an incident's timeline."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)


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


class ChecklistTickRow(Base):
    """One ticked item of an incident's checklist; unticking deletes it."""

    __tablename__ = "incident_checklist"
    __table_args__ = (UniqueConstraint("incident_id", "item", name="ux_incident_checklist_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(300))
    done_by: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())
