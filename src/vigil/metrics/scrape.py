"""Scraping services' ``/metrics`` into the series store, the way Prometheus 2.42 does.

``scrape`` fetches and parses one exposition and never raises: a refused connection, a timeout,
a body over ``BODY_LIMIT`` or text in neither Prometheus' format nor OpenMetrics is a failed
``ScrapeOutcome`` with a one-line reason. ``Scraper`` runs a loop per target on the clock and
stores what Prometheus would (tests compare the two on one target):

- each exposed sample under its full name (``http_requests_total``, ``…_bucket`` with ``le`` as
  written, ``…_created`` too), with ``job`` and ``instance`` set (see ``with_target_labels``);
- at the scrape's start in whole milliseconds, or at the sample's own timestamp if it has one;
- ``up``, ``scrape_duration_seconds``, ``scrape_samples_scraped``,
  ``scrape_samples_post_metric_relabeling``, ``scrape_series_added``, and ``vigil_scrape_up``;
- a stale marker for each series the target's previous scrape had and this one lacks (all of
  them when a scrape fails), so that instant queries drop them at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import aiohttp
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from vigil import __version__
from vigil.config.durations import format_duration
from vigil.config.metrics import ServiceMetrics
from vigil.config.secrets import redact_url
from vigil.engine.clock import Clock, SystemClock
from vigil.errors import VigilError
from vigil.metrics.samples import target_labels, whole_ms, with_target_labels
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import NAME, SeriesRef, SeriesStore
from vigil.probes.describe import describe_error

log = logging.getLogger("vigil.scrape")

BODY_LIMIT = 10 * 1024 * 1024
# Prometheus 2.42's Accept header: a target that negotiates answers Vigil as it answers Prometheus.
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
OPENMETRICS = "application/openmetrics-text"
_REASON_CHARS = 200


class Scraped(NamedTuple):
    labels: dict[str, str]  # __name__ included
    value: float
    timestamp: float | None  # the target's own, in seconds; None: the scrape's time


@dataclass(frozen=True)
class ScrapeOutcome:
    ok: bool
    duration: float  # seconds
    samples: Sequence[Scraped] = ()
    reason: str | None = None


class ScrapeFailed(VigilError):
    """A scrape went wrong; ``str(err)`` says how in one line (it becomes the outcome's reason)."""


async def scrape(
    session: aiohttp.ClientSession,
    url: str,
    scrape_timeout: float,
    headers: Mapping[str, str] | None = None,
    *,
    body_limit: int = BODY_LIMIT,
) -> ScrapeOutcome:
    """Fetch and parse ``url``; whatever happens, an outcome (only cancellation gets out)."""
    start = time.perf_counter()
    # Prometheus' timeout header lets an exporter that probes something else stop in time.
    sent = {"Accept": ACCEPT, "X-Prometheus-Scrape-Timeout-Seconds": f"{scrape_timeout:g}", **(headers or {})}
    try:
        try:
            async with asyncio.timeout(scrape_timeout):
                body, content_type = await _fetch(session, url, sent, body_limit)
        except TimeoutError:
            raise ScrapeFailed(f"no answer within {format_duration(scrape_timeout)}") from None
        # In a thread: a large exposition takes the pure-Python parser a while, and the event
        # loop has probes and pages to serve meanwhile.
        samples = await asyncio.to_thread(parse, body, content_type)
    except ScrapeFailed as err:
        reason = str(err)
    except aiohttp.ClientError as err:
        reason = _client_error(err)
    except Exception as err:  # one odd target must never stop the scraper
        reason = redact_url(describe_error(err))
    else:
        return ScrapeOutcome(True, time.perf_counter() - start, samples)
    return ScrapeOutcome(False, time.perf_counter() - start, reason=reason[:_REASON_CHARS])


async def _fetch(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str], limit: int
) -> tuple[bytes, str]:
    async with session.get(url, headers=headers) as response:
        if response.status != 200:  # Prometheus takes nothing else, not even another 2xx
            raise ScrapeFailed(f"HTTP {response.status} {response.reason or ''}".strip())
        too_big = f"body larger than {limit} bytes"
        if response.content_length is not None and response.content_length > limit:
            raise ScrapeFailed(too_big)
        body = bytearray()
        # Counted after decompression, so a small gzip bomb is stopped as well.
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                raise ScrapeFailed(too_big)
        return bytes(body), response.headers.get("Content-Type", "")


def parse(body: bytes, content_type: str) -> list[Scraped]:
    """Samples of an exposition, by its Content-Type: OpenMetrics or else Prometheus text, as
    Prometheus chooses. Raises ``ScrapeFailed`` saying what is wrong."""
    openmetrics = content_type.split(";", 1)[0].strip().lower() == OPENMETRICS
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ScrapeFailed("body is not UTF-8 text") from None
    families = openmetrics_families if openmetrics else text_families
    try:
        return [
            Scraped(
                {NAME: sample.name, **sample.labels},
                float(sample.value),
                None if sample.timestamp is None else float(sample.timestamp),
            )
            for family in families(text)
            for sample in family.samples
        ]
    except Exception as err:  # mostly ValueError, but garbage can trip the parsers in other ways
        detail = " ".join(str(err).split())
        raise ScrapeFailed(
            f"not {'OpenMetrics' if openmetrics else 'Prometheus text format'}: {detail}"
        ) from None


def _client_error(err: aiohttp.ClientError) -> str:
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"{err.host}:{err.port}: {describe_error(err.os_error)}"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "server closed the connection without answering"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "body cut short or badly encoded"
    return redact_url(describe_error(err))


class Scraper:
    def __init__(
        self,
        targets: Mapping[str, ServiceMetrics],
        store: SeriesStore,
        *,
        clock: Clock | None = None,
        jitter: float = 1.0,
        rng: random.Random | None = None,
        body_limit: int = BODY_LIMIT,
    ) -> None:
        self.targets = dict(targets)  # by job, the service's name
        self.store = store
        self.clock = clock or SystemClock()
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.body_limit = body_limit
        self.last: dict[str, ScrapeOutcome] = {}  # by job: what the dashboard shows
        self.scrapes = 0
        self._previous: dict[str, set[SeriesRef]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Scrape every target on its interval until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                for job, target in self.targets.items():
                    group.create_task(self._loop(job, target), name=f"vigil-scrape-{job}")
        finally:
            await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _loop(self, job: str, target: ServiceMetrics) -> None:
        # Jitter spreads first scrapes over the interval, as the engine's scheduler does checks;
        # then fixed-rate, skipping ahead rather than bursting after a stall.
        due = self.clock.monotonic() + self.rng.uniform(0, target.every * self.jitter)
        while True:
            wait = due - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
            try:
                await self.scrape_once(job)
            except Exception:
                log.exception("scraping %s failed", job)
            due += target.every
            now = self.clock.monotonic()
            if due <= now:
                due += ((now - due) // target.every + 1) * target.every

    async def scrape_once(self, job: str) -> ScrapeOutcome:
        """Scrape ``job``'s target now and write the outcome into the store."""
        target = self.targets[job]
        t = whole_ms(self.clock.now().timestamp())
        outcome = await scrape(
            self._client(), target.url, target.scrape_timeout, target.headers, body_limit=self.body_limit
        )
        self._write(job, target, outcome, t)
        self.last[job] = outcome
        self.scrapes += 1
        return outcome

    def _write(self, job: str, target: ServiceMetrics, outcome: ScrapeOutcome, t: float) -> None:
        base = target_labels(job, target.url, target.labels)
        previous = self._previous.get(job, set())
        seen: set[SeriesRef] = set()
        for sample in outcome.samples:
            labels = with_target_labels(sample.labels, base)
            if sample.timestamp is None:
                ref = self.store.append(labels, t, sample.value)
                if ref is not None:
                    seen.add(ref)
            elif sample.timestamp > t - self.store.retention:  # Prometheus refuses older ones too
                # and never marks a series that carries its own timestamps stale.
                self.store.append(labels, whole_ms(sample.timestamp), sample.value)
        for ref in previous - seen:
            self.store.append_ref(ref, t, STALE_NAN)
        self._previous[job] = seen
        up = 1.0 if outcome.ok else 0.0
        count = float(len(outcome.samples))
        report = {
            "up": up,
            "scrape_duration_seconds": outcome.duration,
            "scrape_samples_scraped": count,
            "scrape_samples_post_metric_relabeling": count,  # Vigil does no relabelling
            "scrape_series_added": float(len(seen - previous)),
            "vigil_scrape_up": up,
        }
        for name, value in report.items():
            self.store.append({NAME: name, **base}, t, value)

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the loop it was made in.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # Each scrape has its own deadline; aiohttp's default must not cut in first.
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": f"vigil/{__version__}"},
            )
        return self._session
