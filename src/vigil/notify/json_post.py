"""A JSON POST for a channel (a webhook, PagerDuty, Opsgenie): one aiohttp session, made at the
first send, and network faults told as ``DeliveryError`` (worth retrying) in one line.

What the channel must not show (a routing key, an API key, a webhook URL whose path holds a
token) is replaced in every line it makes by what it may show, whatever the stack file's
redactor knows: a key written into the file rather than taken from ``${ENV}`` is still a key.
Redirects are not followed: a POST turned into a GET elsewhere is not a delivery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from vigil import __version__
from vigil.config.secrets import redact_url
from vigil.notify.base import DeliveryError
from vigil.probes.describe import describe_error

TIMEOUT_SECONDS = 10.0
ANSWER_LIMIT = 2_000  # characters of an error answer kept for its message
RETRYABLE = frozenset({408, 425, 429})


class JsonPost:
    def __init__(self, what: str, hidden: Mapping[str, str], *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.what = what  # "pagerduty ops-pager": how errors name the channel
        # Longest first: a secret inside another is masked with it.
        self.hidden = sorted(((k, v) for k, v in hidden.items() if k), key=lambda kv: -len(kv[0]))
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self, url: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """The answer's status and its first ``ANSWER_LIMIT`` characters."""
        sent = {"Content-Type": "application/json", "User-Agent": f"vigil/{__version__}", **(headers or {})}
        try:
            async with self._client().post(
                url, data=json.dumps(body, default=str), headers=sent, allow_redirects=False
            ) as response:
                text = (await response.content.read(ANSWER_LIMIT * 4)).decode("utf-8", "replace")
                return response.status, text[:ANSWER_LIMIT]
        except TimeoutError:
            raise DeliveryError(f"{self.what} did not answer within {self.timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise DeliveryError(f"{self.what} is not a valid URL", permanent=True) from None
        except aiohttp.ClientConnectorError as err:
            raise DeliveryError(
                f"{self.what} unreachable: {self.clean(describe_error(err.os_error))}"
            ) from None
        except (aiohttp.ClientError, OSError) as err:
            raise DeliveryError(f"{self.what} failed: {self.clean(describe_error(err))}") from None

    def refused(self, status: int, said: str) -> DeliveryError:
        """The error for a non-2xx answer: 408, 425, 429 and 5xx are worth retrying."""
        retry = status in RETRYABLE or status >= 500
        detail = f": {self.clean(said)}" if said else ""
        return DeliveryError(f"{self.what} answered {status}{detail}", permanent=not retry)

    def clean(self, text: str) -> str:
        for secret, shown in self.hidden:
            text = text.replace(secret, shown)
        return redact_url(" ".join(text.split()))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        # Made at the first send: a session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session


def said(text: str, *fields: str) -> str:
    """What an API's JSON error answer says in ``fields`` (joined), or its text when not JSON."""
    try:
        answer = json.loads(text)
    except ValueError:
        return text.strip()
    if not isinstance(answer, dict):
        return text.strip()
    parts: list[str] = []
    for field in fields:
        value = answer.get(field)
        if isinstance(value, list):
            parts += [str(v) for v in value]
        elif isinstance(value, dict):
            parts += [f"{k}: {v}" for k, v in value.items()]
        elif value:
            parts.append(str(value))
    return "; ".join(parts) or text.strip()
