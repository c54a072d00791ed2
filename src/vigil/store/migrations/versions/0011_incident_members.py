"""Who is on an incident, as rows; and which stack file an incident is of.

``incident_members`` holds the checks on an incident: the one that opened it and each that
joined it (a service's shared incident). Before this revision the joiners were known only from
their timeline lines ("api.live also failing (2 times in a row): …"); the rows are made from
those lines and from each incident's ``check_id``, and a merged incident's members are added to
the incident it was merged into, so an upgraded store keeps its groups.

``incidents.stack`` is the stack file that opened an incident (``Stack.identity``); incidents
from before this revision have none (``incidents.gone`` says how they are treated).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
BATCH = 1000
# A join line as Vigil wrote it up to this revision: ``api.live also failing (2 times in a row): …``.
JOIN_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9][A-Za-z0-9_-]*) also failing \(")

incidents = sa.table(
    "incidents",
    sa.column("id", sa.Integer),
    sa.column("check_id", sa.String),
    sa.column("opened_at", TZ),
    sa.column("resolved_at", TZ),
    sa.column("merged_into", sa.Integer),
)
events = sa.table(
    "incident_events",
    sa.column("id", sa.Integer),
    sa.column("incident_id", sa.Integer),
    sa.column("at", TZ),
    sa.column("text", sa.Text),
)


def upgrade() -> None:
    op.add_column("incidents", sa.Column("stack", sa.String(200), nullable=True))
    members = op.create_table(
        "incident_members",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("joined_at", TZ, nullable=False),
        sa.UniqueConstraint("incident_id", "check_id", name="ux_incident_members"),
    )
    _fill(op.get_bind(), members)


def _fill(bind: sa.Connection, members: sa.Table) -> None:
    """Members from what the store says: each incident's opener, then its join lines in order;
    then the members of merged incidents on the incident each was (last) merged into."""
    found: dict[tuple[int, str], Any] = {}
    openers = sa.select(incidents.c.id, incidents.c.check_id, incidents.c.opened_at).where(
        incidents.c.check_id.is_not(None)
    )
    for incident_id, check_id, at in bind.execute(openers.order_by(incidents.c.id)):
        found.setdefault((incident_id, check_id), at)
    lines = sa.select(events.c.incident_id, events.c.text, events.c.at).where(
        events.c.text.contains(" also failing (")
    )
    for incident_id, text, at in bind.execute(lines.order_by(events.c.id)):
        if match := JOIN_LINE.match(text):
            found.setdefault((incident_id, match.group(1)), at)
    merges = sa.select(incidents.c.id, incidents.c.merged_into, incidents.c.resolved_at).where(
        incidents.c.merged_into.is_not(None)
    )
    merged = {row.id: (row.merged_into, row.resolved_at) for row in bind.execute(merges)}
    for (incident_id, check_id), at in list(found.items()):
        survivor, when = incident_id, at
        seen = {incident_id}
        while survivor in merged and merged[survivor][0] not in seen:  # a chain of merges
            survivor, moved_at = merged[survivor]
            seen.add(survivor)
            when = moved_at or when
        if survivor != incident_id:
            found.setdefault((survivor, check_id), when)
    rows = ({"incident_id": i, "check_id": c, "joined_at": at} for (i, c), at in found.items())
    for chunk in _chunks(rows):
        bind.execute(sa.insert(members), chunk)


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def downgrade() -> None:
    op.drop_table("incident_members")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("stack")
