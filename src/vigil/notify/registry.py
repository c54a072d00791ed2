"""Every channel kind, in one place. Adding a kind: a new module here and one line below."""

from __future__ import annotations

from vigil.config.notify import NotifySettings
from vigil.notify import apprise, log, opsgenie, pagerduty, webhook
from vigil.notify.base import Channel, ChannelKind

CHANNELS: dict[str, ChannelKind] = {
    kind.name: kind for kind in (log.KIND, webhook.KIND, apprise.KIND, pagerduty.KIND, opsgenie.KIND)
}


def build_channels(settings: NotifySettings) -> dict[str, Channel]:
    """One channel per configured name; nothing connects until the first send."""
    return {name: CHANNELS[config.kind].factory(name, config) for name, config in settings.channels.items()}
