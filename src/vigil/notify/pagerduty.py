"""``pagerduty``: PagerDuty's Events API v2 (``POST https://events.pagerduty.com/v2/enqueue``).

An incident's trigger, acknowledgement and resolve are three events sharing one ``dedup_key``
(the incident's ``incident_key``), so PagerDuty keeps one alert and moves it along. A trigger
carries ``payload.summary`` (at most 1,024 characters), ``severity`` (critical, error, warning,
info, mapped from Vigil's), ``source``, ``component``, ``group`` and ``custom_details``, and a
link back to the incident. PagerDuty answers 202; 429 and 5xx are worth retrying, any other 4xx
means the event or the routing key is wrong and is said with PagerDuty's own message. The
Events API has no notes, so status updates are not sent here (``takes_updates``).
"""

from __future__ import annotations

from typing import Any

from vigil.config.notify import ChannelConfig
from vigil.config.pagers import PagerDutyConfig
from vigil.config.secrets import MASK
from vigil.notify.base import ChannelKind, DeliveryError, Message, MessageEvent
from vigil.notify.json_post import JsonPost, said

SUMMARY_LIMIT = 1024
ACTIONS = {
    MessageEvent.TRIGGERED: "trigger",
    MessageEvent.ACKNOWLEDGED: "acknowledge",
    MessageEvent.RESOLVED: "resolve",
}
DETAILS = ("incident_id", "status", "service", "check", "reason", "opened_at", "url", "runbooks", "labels")


class PagerDutyChannel:
    def __init__(self, name: str, config: PagerDutyConfig) -> None:
        self.name = name
        self.config = config
        self.http = JsonPost(f"pagerduty {name}", {config.routing_key: MASK})

    async def send(self, message: Message) -> None:
        action = ACTIONS.get(message.event)
        if action is None:
            raise DeliveryError(f"pagerduty {self.name} takes no {message.event} messages", permanent=True)
        status, text = await self.http.post(self.config.url, self.event(message, action))
        if 200 <= status < 300:
            return
        raise self.http.refused(status, said(text, "message", "errors"))

    def event(self, message: Message, action: str) -> dict[str, Any]:
        p = message.payload
        dedup = p.get("incident_key") or message.key
        event: dict[str, Any] = {
            "routing_key": self.config.routing_key,
            "event_action": action,
            "dedup_key": str(dedup),
        }
        if action != "trigger":
            return event
        severity = self.config.severities.get(str(p.get("severity")), "error")
        event["payload"] = {
            "summary": f"[{p.get('severity')}] {p.get('title')}: {p.get('reason') or 'no reason given'}"[
                :SUMMARY_LIMIT
            ],
            "severity": severity,
            "source": self.config.source or str(p.get("service") or "vigil"),
            "component": str(p.get("check") or p.get("service") or ""),
            "group": str(p.get("service") or ""),
            "class": str(p.get("severity") or ""),
            "custom_details": {k: p[k] for k in DETAILS if p.get(k) is not None},
        }
        event["client"] = "Vigil"
        if p.get("url"):
            event["client_url"] = str(p["url"])
            event["links"] = [{"href": str(p["url"]), "text": "The incident in Vigil"}]
        return event

    async def close(self) -> None:
        await self.http.close()


def _factory(name: str, config: ChannelConfig) -> PagerDutyChannel:
    if config.pagerduty is None:  # the registry builds a kind only from its own config
        raise ValueError(f"channel {name} is not a pagerduty channel")
    return PagerDutyChannel(name, config.pagerduty)


KIND = ChannelKind("pagerduty", _factory, takes_updates=False)
