"""``log``: each message as one JSON line on stderr, for log shippers and for ``vigil demo``.

It writes to ``sys.stderr`` itself rather than through the ``logging`` module: a page is a
delivery, and one that a log level or a missing handler silently dropped would still be marked
delivered in the outbox. The stream is looked up at each send, so a redirected stderr is used.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from vigil.config.notify import ChannelConfig
from vigil.notify.base import ChannelKind, DeliveryError, Message, MessageEvent

FIELDS = ("title", "severity", "service", "check", "reason", "url", "incident_id")


class LogChannel:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    async def send(self, message: Message) -> None:
        record: dict[str, Any] = {
            "notify": self.name,
            "event": str(message.event),
            "key": message.key,
            **{field: message.payload.get(field) for field in FIELDS},
        }
        if message.runbooks:
            record["runbooks"] = message.runbooks
        if message.event is MessageEvent.GROUP:  # a storm's group window: one line listing them all
            listed = message.payload.get("messages") or []
            record["count"] = len(listed)
            record["messages"] = [
                {k: m.get(k) for k in ("event", "incident_id", "severity", "title")} for m in listed
            ]
        elif message.event is MessageEvent.UPDATE:
            record["message"] = message.payload.get("message")
        if message.payload.get("ack_url"):  # a page's acknowledge link (incidents.ack_links)
            record["ack_url"] = message.payload["ack_url"]
        line = json.dumps(record, default=str, ensure_ascii=False)
        stream = self._stream or sys.stderr
        try:
            # One write of the whole line, so that lines from concurrent writers never interleave.
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError) as err:  # ValueError: the stream was closed
            raise DeliveryError(f"log channel cannot write to stderr: {err}") from None

    async def close(self) -> None:
        """Nothing to release: stderr belongs to the process."""


def _factory(name: str, config: ChannelConfig) -> LogChannel:
    return LogChannel(name)


KIND = ChannelKind("log", _factory)
