"""What a status update says and how it reads: its statuses, and the message template, by
default in the runbooks' own words ("INCIDENT: [SEV1] Production API down / Impact / Started /
Assigned / Status"). A team's template replaces it from ``notify: {templates: {update: …}}``.

Kept apart from ``incidents.updates`` so that the stack file's schema can compile a team's
template when the file is read, without importing the incident service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.notify.message_template import MessageTemplate


class UpdateStatus(StrEnum):
    """Where the response stands, as status pages say it."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


DEFAULT_UPDATE_TEMPLATE = """\
{{ "RESOLVED" if status == "resolved" else "INCIDENT" }}: [{{ incident.severity }}] {{ incident.title }}
- Impact: {{ impact }}
- Started: {{ started }}
- Assigned: {{ assigned }}
- Status: {{ status | capitalize }}
- Update: {{ text }}
{% if incident.url %}
{{ incident.url }}
{% endif %}"""

# The names a template may use; ``incident`` is the incident as the API shows it, with its ``url``.
UPDATE_NAMES = ("incident", "status", "text", "impact", "started", "assigned", "actor", "at")
MESSAGE_LIMIT = 4_000


def update_template(source: str | None) -> MessageTemplate:
    """The team's update template compiled, or the default one."""
    from vigil.notify.message_template import MessageTemplate  # Jinja2, only to compile one

    return MessageTemplate(
        DEFAULT_UPDATE_TEMPLATE if source is None else source,
        name="notify.templates.update",
        known=UPDATE_NAMES,
        limit=MESSAGE_LIMIT,
    )


def update_context(
    incident: Mapping[str, Any],
    *,
    status: UpdateStatus,
    text: str,
    impact: str | None,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """What a template sees. ``impact`` is the latest stated one; without any, the incident's
    reason stands in (what the check or rule saw)."""
    assignee = incident.get("assignee") or incident.get("acknowledged_by")
    reason = incident.get("reason")
    place = incident.get("check") or incident.get("service")
    return {
        "incident": dict(incident),
        "status": str(status),
        "text": text,
        "impact": impact or (f"{place}: {reason}" if reason else "not assessed yet"),
        "started": stamp(incident["opened_at"]),
        "assigned": (assignee if str(assignee).startswith("@") else f"@{assignee}")
        if assignee
        else "unassigned",
        "actor": actor,
        "at": at.strftime("%Y-%m-%d %H:%M UTC"),
    }


def stamp(moment: datetime | str) -> str:
    """``2026-01-15 10:30 UTC``, the runbooks' way of writing a time."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.strftime("%Y-%m-%d %H:%M UTC")
