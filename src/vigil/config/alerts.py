"""The stack file's ``alerts:`` — rules over metrics in the Prometheus rule shape users know.

```yaml
alerts:
  - name: HighErrorRate
    expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
    for: 5m
    severity: P1
    annotations: {summary: "Error rate {{ $value | humanizePercentage }}"}
    runbook: runbooks/production.md#issue-502-bad-gateway
```
"""

from __future__ import annotations

from pydantic import Field

from vigil.config.check import StrictModel
from vigil.config.durations import Duration

ALERT_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class AlertRule(StrictModel):
    """One alerting rule; its ``notify`` channels are checked against ``notify.channels``."""

    name: str = Field(pattern=ALERT_NAME, description="The alert's name (Prometheus: alert).")
    expr: str = Field(min_length=1, description="A PromQL expression; every sample it returns is an alert.")
    for_: Duration = Field(0.0, alias="for", description="How long it must hold before it fires.")
    keep_firing_for: Duration = Field(0.0, description="How long it keeps firing after it stops holding.")
    severity: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="A level of the severity scheme (P1…P4 by default), or critical, warning or info; "
        "default: the rule's severity label mapped onto the scheme, else its second level (P2).",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Added to every alert of this rule.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Templated with {{ $labels.x }} and {{ $value }}, as in Prometheus."
    )
    runbook: str | None = Field(None, description="Where the responder should look: a runbook section.")
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname"],
        description="Alerts with the same values of these labels share one incident.",
    )
    notify: list[str] | None = Field(None, description="Channels to page; default: notify.default.")
