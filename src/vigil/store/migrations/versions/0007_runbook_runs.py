"""Runbook runs: who ran which procedure's steps, when, and what each step gave back.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runbook_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("procedure", sa.String(1000), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_runbook_runs_incident_id", "runbook_runs", ["incident_id"])
    op.create_index("ix_runbook_runs_started_at", "runbook_runs", ["started_at"])


def downgrade() -> None:
    op.drop_table("runbook_runs")
