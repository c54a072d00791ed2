"""The incident lifecycle past acknowledge: labels, the resolve target, mitigated, assignee and
commander, merges (and the keys they route), reopen counts, checklist ticks, missed targets.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def incident_id() -> sa.Column[int]:
    return sa.Column(
        "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    for column in (
        sa.Column("labels", sa.JSON, nullable=True),
        sa.Column("resolve_by", TZ, nullable=True),
        sa.Column("mitigated_at", TZ, nullable=True),
        sa.Column("mitigated_by", sa.String(200), nullable=True),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("commander", sa.String(200), nullable=True),
        sa.Column("merged_into", sa.Integer, nullable=True),
        sa.Column("reopened", sa.Integer, nullable=False, server_default=sa.text("0")),
    ):
        op.add_column("incidents", column)
    # A level's name may be longer than P1's; SQLite does not hold VARCHAR to its length.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("incidents", "severity", type_=sa.String(40), existing_nullable=False)
    op.create_table(
        "incident_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        incident_id(),
        sa.Column("merged_from", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_incident_keys_key", "incident_keys", ["key"])
    op.create_index("ix_incident_keys_incident_id", "incident_keys", ["incident_id"])
    op.create_table(
        "incident_checklist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        incident_id(),
        sa.Column("item", sa.String(300), nullable=False),
        sa.Column("done_by", sa.String(200), nullable=False),
        sa.Column("done_at", TZ, nullable=False),
        sa.UniqueConstraint("incident_id", "item", name="ux_incident_checklist_item"),
    )
    op.create_table(
        "incident_target_misses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        incident_id(),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(40), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.UniqueConstraint("incident_id", "target", name="ux_incident_target_misses"),
    )


def downgrade() -> None:
    for table in ("incident_target_misses", "incident_checklist", "incident_keys"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("incidents", "severity", type_=sa.String(8), existing_nullable=False)
    with op.batch_alter_table("incidents") as batch:
        for name in (
            "reopened",
            "merged_into",
            "commander",
            "assignee",
            "mitigated_by",
            "mitigated_at",
            "resolve_by",
            "labels",
        ):
            batch.drop_column(name)
