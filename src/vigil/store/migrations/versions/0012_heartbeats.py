"""Heartbeat checks' keys and last state, and the pings they received.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("check_id", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(100), nullable=True, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("run_started_at", TZ, nullable=True),
        sa.Column("failed_at", TZ, nullable=True),
        sa.Column("failure", sa.Text, nullable=True),
        sa.Column("run_seconds", sa.Float, nullable=True),
    )
    op.create_table(
        "pings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("signal", sa.String(10), nullable=False),
        sa.Column("exit_status", sa.Integer, nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("remote", sa.String(100), nullable=True),
    )
    op.create_index("ix_pings_check_at", "pings", ["check_id", "at"])
    op.create_index("ix_pings_at", "pings", ["at"])


def downgrade() -> None:
    op.drop_table("pings")
    op.drop_table("heartbeats")
