"""Vigil's tables, by domain. Changes go through an Alembic migration in ``migrations/versions``;
importing this package registers every table on ``Base.metadata``, which Alembic compares with."""

from __future__ import annotations

from vigil.store.tables.base import Base
from vigil.store.tables.checks import (
    AlertStateRow,
    BackupRunRow,
    CheckStateRow,
    FlapStateRow,
    HeartbeatRow,
    MetricHistoryRow,
    PingRow,
    ResultRow,
)
from vigil.store.tables.incidents import (
    AckLinkRow,
    ChecklistTickRow,
    EscalationRow,
    IncidentEventRow,
    IncidentKeyRow,
    IncidentMemberRow,
    IncidentRow,
    IncidentUpdateRow,
    OutboxRow,
    TargetMissRow,
)
from vigil.store.tables.operations import (
    ApiTokenRow,
    MaintenanceWindowRow,
    RunbookRunRow,
    SilenceRow,
    StoreIdentityRow,
)

__all__ = [
    "AckLinkRow",
    "AlertStateRow",
    "ApiTokenRow",
    "BackupRunRow",
    "Base",
    "CheckStateRow",
    "ChecklistTickRow",
    "EscalationRow",
    "FlapStateRow",
    "HeartbeatRow",
    "IncidentEventRow",
    "IncidentKeyRow",
    "IncidentMemberRow",
    "IncidentRow",
    "IncidentUpdateRow",
    "MaintenanceWindowRow",
    "MetricHistoryRow",
    "OutboxRow",
    "PingRow",
    "ResultRow",
    "RunbookRunRow",
    "SilenceRow",
    "StoreIdentityRow",
    "TargetMissRow",
]
