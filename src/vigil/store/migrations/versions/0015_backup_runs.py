"""Backup runs: each backup, verification and restore of a backup job, and how it ended.

Revision ID: 0015
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("artefact", sa.Text, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_backup_runs_job_started", "backup_runs", ["job", "started_at"])


def downgrade() -> None:
    op.drop_table("backup_runs")
