"""Downsampled metric history for charts.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "metric_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("series_key", sa.String(1000), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("bucket_start", TZ, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("avg", sa.Float, nullable=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
    )
    op.create_index("ix_metric_history_key_bucket", "metric_history", ["series_key", "bucket_start"])
    op.create_index("ix_metric_history_bucket_start", "metric_history", ["bucket_start"])


def downgrade() -> None:
    op.drop_table("metric_history")
