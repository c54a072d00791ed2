"""Escalation state per incident, and the acknowledge links its pages carry (hashes only).

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("policy", sa.String(200), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("run", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_page_at", TZ, nullable=True),
        sa.Column("paged_at", TZ, nullable=True),
        sa.Column("held_reason", sa.Text, nullable=True),
        sa.Column("stopped_reason", sa.Text, nullable=True),
        sa.Column("labels", sa.JSON, nullable=False),
    )
    op.create_index("ix_escalations_next_page_at", "escalations", ["next_page_at"])
    op.create_table(
        "ack_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
    )
    op.create_index("ix_ack_links_incident_id", "ack_links", ["incident_id"])


def downgrade() -> None:
    op.drop_table("ack_links")
    op.drop_table("escalations")
