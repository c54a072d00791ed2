"""A store knows itself: an id made when it is created, carried by every idempotency key.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    table = op.create_table(
        "store_identity",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("checked_at", TZ, nullable=True),
    )
    # Made here, so a store created (or upgraded) by any Vigil has exactly one id from then on.
    op.bulk_insert(table, [{"id": uuid.uuid4().hex[:12], "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("store_identity")
