"""Check results.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_results_check_started", "results", ["check_id", "started_at"])
    op.create_index("ix_results_started_at", "results", ["started_at"])


def downgrade() -> None:
    op.drop_table("results")
