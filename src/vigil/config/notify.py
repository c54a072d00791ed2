"""The stack file's ``notify:`` block: named channels and who is paged by default.

```yaml
notify:
  channels:
    ops-hook: {webhook: http://127.0.0.1:9999/hook}
    ops-log: {log: true}
    team-chat: {apprise: "${CHAT_URL}"}
  default: [ops-hook, ops-log]
```
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from vigil.config.check import NAME_PATTERN, StrictModel
from vigil.config.durations import Duration

CHANNEL_KINDS = ("webhook", "log", "apprise")


class ChannelConfig(StrictModel):
    """One channel; its kind is the one of ``webhook``, ``log`` or ``apprise`` it carries."""

    webhook: str | None = Field(None, description="URL that receives a JSON POST per message.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers for webhook requests.")
    log: bool | None = Field(None, description="Write each message as a structured line to stderr.")
    apprise: str | None = Field(None, description="An Apprise URL (slack://…, mailto://…, json://…).")
    expire_after: Duration = Field(24 * 3600.0, description="Give up on a message after this long.")

    @model_validator(mode="after")
    def _one_kind(self) -> ChannelConfig:
        present = [kind for kind in CHANNEL_KINDS if getattr(self, kind) not in (None, False)]
        if len(present) != 1:
            raise ValueError(f"a channel needs exactly one of {', '.join(CHANNEL_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in CHANNEL_KINDS if getattr(self, kind) not in (None, False))

    @property
    def target(self) -> Any:
        return getattr(self, self.kind)


class NotifySettings(StrictModel):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=list, description="Channels paged when a check names none.")

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
