"""The stack file's outbound pagers: PagerDuty (Events API v2) and Opsgenie (Alert API).

```yaml
notify:
  channels:
    pd: {pagerduty: {routing_key: "${PAGERDUTY_ROUTING_KEY}"}}
    og: {opsgenie: {api_key: "${OPSGENIE_API_KEY}", region: eu}}
```

Each maps Vigil's severities onto its own scale; the default maps the first level of each
ready scheme (P1, SEV1, critical) to the highest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.config.check import StrictModel

PagerDutySeverity = Literal["critical", "error", "warning", "info"]
OpsgeniePriority = Literal["P1", "P2", "P3", "P4", "P5"]
# The levels of the three ready schemes, from the most to the least urgent.
LADDER = (("P1", "SEV1", "critical"), ("P2", "SEV2", "high"), ("P3", "SEV3", "medium"), ("P4", "SEV4", "low"))
PAGERDUTY_LEVELS: tuple[PagerDutySeverity, ...] = ("critical", "error", "warning", "info")
OPSGENIE_LEVELS: tuple[OpsgeniePriority, ...] = ("P1", "P2", "P3", "P4")
OPSGENIE_BASES = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}


class PagerDutyConfig(StrictModel):
    routing_key: str = Field(
        min_length=1,
        max_length=500,
        description="The integration's routing key, e.g. ${PAGERDUTY_ROUTING_KEY}.",
    )
    url: str = Field("https://events.pagerduty.com/v2/enqueue", description="The Events API v2 endpoint.")
    source: str | None = Field(None, max_length=255, description="The event's source; default: the service.")
    severities: dict[str, PagerDutySeverity] = Field(
        default_factory=lambda: {
            name: level for names, level in zip(LADDER, PAGERDUTY_LEVELS, strict=True) for name in names
        },
        description="Vigil severity → PagerDuty severity (critical, error, warning, info).",
    )


class OpsgenieConfig(StrictModel):
    api_key: str = Field(
        min_length=1, max_length=500, description="An API integration's key, e.g. ${OPSGENIE_API_KEY}."
    )
    region: Literal["us", "eu"] = Field("us", description="Which Opsgenie site the account lives on.")
    url: str | None = Field(None, description="The API's base URL; default: the region's.")
    tags: list[str] = Field(default_factory=list, max_length=20, description="Tags on every alert.")
    priorities: dict[str, OpsgeniePriority] = Field(
        default_factory=lambda: {
            name: level for names, level in zip(LADDER, OPSGENIE_LEVELS, strict=True) for name in names
        },
        description="Vigil severity → Opsgenie priority (P1 … P5).",
    )

    @property
    def base(self) -> str:
        return (self.url or OPSGENIE_BASES[self.region]).rstrip("/")
