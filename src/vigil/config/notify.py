"""The stack file's ``notify:`` block: named channels and who is paged by default.

```yaml
notify:
  channels:
    ops-hook: {webhook: http://127.0.0.1:9999/hook}
    ops-log: {log: true}
    team-chat: {apprise: "${CHAT_URL}", group_wait: 30s}
    pager: {pagerduty: {routing_key: "${PAGERDUTY_ROUTING_KEY}"}}
  default: [ops-hook, ops-log]
  templates:
    update: "[{{ incident.severity }}] {{ incident.title }}: {{ status }} — {{ text }}"
```

``group_wait`` makes a channel take the messages of a storm as one: the first message of a
window waits that long, then one message lists every one queued meanwhile; the next window
opens ``group_interval`` after it was sent. 0 (the default) sends each message as it comes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from vigil.config.check import NAME_PATTERN, StrictModel
from vigil.config.durations import Duration
from vigil.config.pagers import OpsgenieConfig, PagerDutyConfig

CHANNEL_KINDS = ("webhook", "log", "apprise", "pagerduty", "opsgenie")
# Pagers keep one alert per incident (its dedup key or alias): a message listing many has no place there.
UNGROUPED_KINDS = ("pagerduty", "opsgenie")


class ChannelConfig(StrictModel):
    """One channel; its kind is the one of ``webhook``, ``log`` or ``apprise`` it carries."""

    webhook: str | None = Field(None, description="URL that receives a JSON POST per message.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers for webhook requests.")
    log: bool | None = Field(None, description="Write each message as a structured line to stderr.")
    apprise: str | None = Field(None, description="An Apprise URL (slack://…, mailto://…, json://…).")
    pagerduty: PagerDutyConfig | None = Field(None, description="PagerDuty's Events API v2: {routing_key}.")
    opsgenie: OpsgenieConfig | None = Field(None, description="Opsgenie's Alert API: {api_key, region}.")
    expire_after: Duration = Field(24 * 3600.0, description="Give up on a message after this long.")
    group_wait: Duration = Field(
        0.0,
        le=3600.0,
        description="Wait this long after the first message of a storm and send all of its window as one; 0: off.",
    )
    group_interval: Duration = Field(
        300.0, ge=1.0, le=86400.0, description="With group_wait: the least time between two grouped messages."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ChannelConfig:
        present = [kind for kind in CHANNEL_KINDS if getattr(self, kind) not in (None, False)]
        if len(present) != 1:
            raise ValueError(f"a channel needs exactly one of {', '.join(CHANNEL_KINDS)}")
        if self.group_wait and present[0] in UNGROUPED_KINDS:
            raise ValueError(
                f"{present[0]} keeps one alert per incident and groups them itself; group_wait is for "
                "webhook, apprise and log channels"
            )
        return self

    @property
    def grouped(self) -> bool:
        return self.group_wait > 0

    @property
    def kind(self) -> str:
        return next(kind for kind in CHANNEL_KINDS if getattr(self, kind) not in (None, False))

    @property
    def target(self) -> Any:
        return getattr(self, self.kind)


class NotifyTemplates(StrictModel):
    update: str | None = Field(
        None,
        max_length=20_000,
        description="Jinja2 for a status update's message; names: incident, status, text, impact, "
        "started, assigned, actor, at. Default: the runbooks' INCIDENT / Impact / Started / Assigned / Status.",
    )

    @field_validator("update")
    @classmethod
    def _compiles(cls, source: str | None) -> str | None:
        # Jinja2 loads only for a stack file that has a template of its own.
        from vigil.incidents.update_message import update_template
        from vigil.notify.message_template import TemplateFault

        try:
            update_template(source)
        except TemplateFault as err:
            raise ValueError(err.reason) from None
        return source


class NotifySettings(StrictModel):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=list, description="Channels paged when a check names none.")
    templates: NotifyTemplates = Field(
        default_factory=NotifyTemplates,  # type: ignore[arg-type]
        description="Message templates: {update: …}.",
    )

    @model_validator(mode="after")
    def _known_channels(self) -> NotifySettings:
        import re

        for name in self.channels:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"channel name {name!r} may use only letters, digits, '-' and '_'")
        unknown = [name for name in self.default if name not in self.channels]
        if unknown:
            raise ValueError(f"default names unknown channel(s): {', '.join(unknown)}")
        return self
