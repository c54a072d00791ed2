"""Check state, incidents and their timelines, the notification outbox, API tokens.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "check_state",
        sa.Column("check_id", sa.String(200), primary_key=True),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("checked_at", TZ, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("check_id", sa.String(200)),
        sa.Column("reason", sa.Text),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("respond_by", TZ, nullable=False),
        sa.Column("acknowledged_at", TZ),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.Column("resolved_at", TZ),
        sa.Column("resolved_by", sa.String(200)),
    )
    op.create_index(
        "ux_incidents_open_key",
        "incidents",
        ["key"],
        unique=True,
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    )
    op.create_index("ix_incidents_status_opened", "incidents", ["status", "opened_at"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200)),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_incident_id", "outbox", ["incident_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ),
        sa.Column("revoked_at", TZ),
    )


def downgrade() -> None:
    for table in ("api_tokens", "outbox", "incident_events", "incidents", "check_state"):
        op.drop_table(table)
