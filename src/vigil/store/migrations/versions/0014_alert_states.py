"""Pending and firing alerts, kept so that a restart restores them.

``alert_states`` holds one row per active alert of a stack file's rules: since when it is
active, since when it fires, and the incident it opened or joined (``alerting.alert_states``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("stack", sa.String(200), primary_key=True),
        sa.Column("rule", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("active_at", TZ, nullable=False),
        sa.Column("fired_at", TZ, nullable=True),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("seen_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
