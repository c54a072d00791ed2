"""Reading JSON from an HTTP API, what the ``qdrant`` and ``statuspage`` probes share.

A ``JsonClient`` keeps one connection pool for its probe, reads at most ``limit`` bytes of an
answer (a misbehaving server cannot exhaust memory) and words every failure as a check's reason:
where the connection failed (as the ``http`` probe words it), an answer too big, or a body that
is not JSON (an HTML error page from a proxy says so, rather than a parser's complaint).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vigil import __version__
from vigil.config.secrets import redact_url
from vigil.errors import ProbeError
from vigil.probes.http import HttpCheck, client_error
from vigil.probes.query import show

if TYPE_CHECKING:
    import aiohttp

CONNECTION_LIMIT = 64


def check_http_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host (the ``http`` probe's rule); a ``ValueError``
    naming the fix otherwise."""
    return HttpCheck._url_is_http(value)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole (within the limit), and how long it took."""

    status: int
    body: bytes
    elapsed_ms: float

    def text(self, limit: int = 80) -> str:
        """The body as one short line, for a reason."""
        words = " ".join(self.body[: limit * 4].decode("utf-8", errors="replace").split())
        return words if len(words) <= limit else words[: limit - 3] + "..."

    def json(self, what: str) -> Any:
        """The body as JSON, or ``ProbeError`` saying what ``what`` answered instead."""
        stripped = self.body.lstrip()
        if not stripped:
            raise ProbeError(f"{what} answered an empty body, expected JSON")
        if stripped[:1] == b"<":
            raise ProbeError(f"{what} answered HTML, expected JSON; it starts {show(self.text(40))}")
        try:
            return json.loads(stripped)
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8 text
            start = show(self.text(40))
            raise ProbeError(f"{what} answered something that is not JSON; it starts {start}") from None


class JsonClient:
    """One aiohttp session for a probe's checks, made on first use in the engine's loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT),
                timeout=aiohttp.ClientTimeout(total=None),  # each request carries the check's own
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": f"vigil/{__version__}", "Accept": "application/json"},
            )
        return self._session

    async def get(self, url: str, within: float, headers: dict[str, str] | None = None) -> Answer:
        """GET ``url`` taking at most ``within`` seconds; ``ProbeError`` when no answer came, or
        one larger than the limit."""
        import aiohttp

        start = time.perf_counter()
        try:
            async with self._client().get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=within)
            ) as response:
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > self.limit:
                        raise ProbeError(
                            f"{redact_url(url)} answered more than {self.limit // 1024} KiB; "
                            "is it the right address?"
                        )
                status = response.status
        except TimeoutError:
            raise  # the engine words every timeout alike
        except aiohttp.ClientError as err:
            raise ProbeError(client_error(err)) from None
        return Answer(status, bytes(body), round((time.perf_counter() - start) * 1000.0, 3))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
