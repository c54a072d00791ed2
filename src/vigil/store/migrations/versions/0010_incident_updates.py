"""Status updates posted on incidents, and the flapping record of incident keys.

Revision ID: 0010
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("impact", sa.Text, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_incident_updates_incident_id", "incident_updates", ["incident_id"])
    op.create_table(
        "flap_states",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failing", sa.Boolean, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("flapping_since", TZ, nullable=True),
        sa.Column("changed_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flap_states")
    op.drop_table("incident_updates")
