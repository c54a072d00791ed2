"""Which stack file queued each outbox row.

``outbox.stack`` is the stack file that queued a message (``Stack.identity``): several stack
files may share one store, and each one's worker sends only its own messages, through its own
channels. Rows from before this revision have none, and any worker sends them, as before.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("stack", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("stack")
