"""``opsgenie``: Opsgenie's Alert API (``https://api.opsgenie.com``, or ``api.eu.opsgenie.com``).

An incident is one Opsgenie alert whose ``alias`` is the incident's ``incident_key``: the trigger
creates it (``POST /v2/alerts``), the acknowledgement and the resolve act on it by alias
(``POST /v2/alerts/{alias}/acknowledge?identifierType=alias``, ``…/close``), and a status
update becomes a note on it (``…/notes``). Requests carry ``Authorization: GenieKey <key>``.
Opsgenie answers 202 and does the work later; 429 and 5xx are worth retrying, any other 4xx
(a wrong key, a field too long) is said with Opsgenie's own message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from vigil.config.notify import ChannelConfig
from vigil.config.pagers import OpsgenieConfig
from vigil.config.secrets import MASK
from vigil.notify.base import ChannelKind, DeliveryError, Message, MessageEvent
from vigil.notify.json_post import JsonPost, said

# Opsgenie's own limits on an alert's fields.
MESSAGE_LIMIT = 130
DESCRIPTION_LIMIT = 15_000
NOTE_LIMIT = 25_000
USER_LIMIT = 100
DETAIL_LIMIT = 8_000
DETAILS = ("incident_id", "service", "check", "reason", "opened_at", "url")
ACTIONS = {
    MessageEvent.ACKNOWLEDGED: "acknowledge",
    MessageEvent.RESOLVED: "close",
    MessageEvent.UPDATE: "notes",
}


class OpsgenieChannel:
    def __init__(self, name: str, config: OpsgenieConfig) -> None:
        self.name = name
        self.config = config
        self.http = JsonPost(f"opsgenie {name}", {config.api_key: MASK})
        self.headers = {"Authorization": f"GenieKey {config.api_key}"}

    async def send(self, message: Message) -> None:
        url, body = self.request(message)
        status, text = await self.http.post(url, body, self.headers)
        if 200 <= status < 300:
            return
        raise self.http.refused(status, said(text, "message", "errors"))

    def request(self, message: Message) -> tuple[str, dict[str, Any]]:
        """Where to POST and what, for ``message``."""
        p = message.payload
        alias = str(p.get("incident_key") or message.key)[:512]
        alerts = f"{self.config.base}/v2/alerts"
        if message.event is MessageEvent.TRIGGERED:
            return alerts, self.alert(message, alias)
        action = ACTIONS.get(message.event)
        if action is None:
            raise DeliveryError(f"opsgenie {self.name} takes no {message.event} messages", permanent=True)
        who = p.get("acknowledged_by") if message.event is MessageEvent.ACKNOWLEDGED else p.get("resolved_by")
        body: dict[str, Any] = {"source": "Vigil"}
        if message.event is MessageEvent.UPDATE:
            update = p.get("update")
            who = update.get("actor") if isinstance(update, dict) else None
            body["note"] = str(p.get("message") or message.body)[:NOTE_LIMIT]
        else:
            body["note"] = f"{message.event} in Vigil" + (f" by {who}" if who else "")
        if who:
            body["user"] = str(who)[:USER_LIMIT]
        return f"{alerts}/{quote(alias, safe='')}/{action}?identifierType=alias", body

    def alert(self, message: Message, alias: str) -> dict[str, Any]:
        p = message.payload
        title = f"[{p.get('severity')}] {p.get('title')}"
        return {
            "message": title[:MESSAGE_LIMIT],
            "alias": alias,
            "description": message.body[:DESCRIPTION_LIMIT],
            "priority": self.config.priorities.get(str(p.get("severity")), "P3"),
            "source": "Vigil",
            "entity": str(p.get("service") or "")[:512],
            "tags": list(self.config.tags),
            "details": {k: str(p[k])[:DETAIL_LIMIT] for k in DETAILS if p.get(k) is not None},
        }

    async def close(self) -> None:
        await self.http.close()


def _factory(name: str, config: ChannelConfig) -> OpsgenieChannel:
    if config.opsgenie is None:  # the registry builds a kind only from its own config
        raise ValueError(f"channel {name} is not an opsgenie channel")
    return OpsgenieChannel(name, config.opsgenie)


KIND = ChannelKind("opsgenie", _factory)
