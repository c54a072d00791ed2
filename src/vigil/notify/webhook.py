"""``webhook``: a JSON POST of the message's payload, with its idempotency key.

The body is the payload plus ``event`` and ``idempotency_key``; the same key travels in the
``Idempotency-Key`` header, so a receiver can drop the duplicate that at-least-once delivery
may bring. Any 2xx is a delivery. Timeouts, connection errors, 408, 425, 429 and 5xx are worth
retrying; any other answer (a 404, a 401, a redirect) means the channel is misconfigured.

Errors name the URL without its user, password or query string, which often carry tokens.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp

from vigil import __version__
from vigil.config.notify import ChannelConfig
from vigil.config.secrets import redact_url
from vigil.notify.base import ChannelKind, DeliveryError, Message
from vigil.probes.describe import describe_error

TIMEOUT_SECONDS = 10.0
RETRYABLE = frozenset({408, 425, 429})


class WebhookChannel:
    def __init__(
        self, name: str, url: str, headers: dict[str, str] | None = None, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.name = name
        self.url = url
        self.shown = shown_url(url)
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", "User-Agent": f"vigil/{__version__}"}
        self._headers.update(headers or {})
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: Message) -> None:
        if not _is_http(self.url):
            raise DeliveryError(f"webhook {self.shown} is not an http(s) URL", permanent=True)
        body = {**message.payload, "event": str(message.event), "idempotency_key": message.key}
        headers = {**self._headers, "Idempotency-Key": message.key}
        try:
            # Redirects are not followed: a POST turned into a GET elsewhere is not a delivery.
            async with self._client().post(
                self.url, data=json.dumps(body, default=str), headers=headers, allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            raise DeliveryError(f"webhook {self.shown} did not answer within {self.timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise DeliveryError(f"webhook {self.shown} is not a valid URL", permanent=True) from None
        except aiohttp.ClientConnectorError as err:
            raise DeliveryError(
                f"webhook {self.shown} unreachable: {self._clean(describe_error(err.os_error))}"
            ) from None
        except (aiohttp.ClientError, OSError) as err:
            raise DeliveryError(f"webhook {self.shown} failed: {self._clean(describe_error(err))}") from None
        if 200 <= status < 300:
            return
        retry = status in RETRYABLE or status >= 500
        raise DeliveryError(f"webhook {self.shown} answered {status}", permanent=not retry)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        # Made at the first send: a session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _clean(self, text: str) -> str:
        return redact_url(text.replace(self.url, self.shown))


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
