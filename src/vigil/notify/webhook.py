"""``webhook``: a JSON POST of the message's payload, with its idempotency key.

The body is the payload plus ``event`` and ``idempotency_key``; the same key travels in the
``Idempotency-Key`` header, so a receiver can drop the duplicate that at-least-once delivery
may bring. Any 2xx is a delivery. Timeouts, connection errors, 408, 425, 429 and 5xx are worth
retrying; any other answer (a 404, a 401, a redirect) means the channel is misconfigured.

Errors name the URL without its user, password or query string, which often carry tokens.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from vigil.config.notify import ChannelConfig
from vigil.config.secrets import redact_url
from vigil.notify.base import ChannelKind, DeliveryError, Message
from vigil.notify.json_post import TIMEOUT_SECONDS, JsonPost


class WebhookChannel:
    def __init__(
        self, name: str, url: str, headers: dict[str, str] | None = None, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.name = name
        self.url = url
        self.shown = shown_url(url)
        self.timeout = timeout
        self._headers = dict(headers or {})
        self.http = JsonPost(f"webhook {self.shown}", {url: self.shown}, timeout=timeout)

    async def send(self, message: Message) -> None:
        if not _is_http(self.url):
            raise DeliveryError(f"webhook {self.shown} is not an http(s) URL", permanent=True)
        body = {**message.payload, "event": str(message.event), "idempotency_key": message.key}
        status, _ = await self.http.post(self.url, body, {**self._headers, "Idempotency-Key": message.key})
        if not 200 <= status < 300:
            raise self.http.refused(status, "")

    async def close(self) -> None:
        await self.http.close()


def shown_url(url: str) -> str:
    """``url`` fit for an error message: scheme, host and port. Chat services put their tokens
    in the path (``/services/T000/B000/<token>``), so a path is shown only as ``/…``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(malformed URL)"
    if ":" in host:
        host = f"[{host}]"
    path = "/…" if parts.path.strip("/") or parts.query else ""
    return redact_url(f"{parts.scheme}://{host}{port}{path}")


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a bad IPv6 literal or port
        return False


def _factory(name: str, config: ChannelConfig) -> WebhookChannel:
    return WebhookChannel(name, str(config.webhook), dict(config.headers))


KIND = ChannelKind("webhook", _factory)
