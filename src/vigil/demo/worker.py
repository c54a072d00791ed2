"""The demo's worker: a background task of the target that pings Vigil's heartbeat URL, as a cron
job or a Celery beat task would after each run.

It pings ``/ping/<key>`` every ``every`` seconds (the first ping one period after it starts, by
when Vigil listens) unless the ``worker_down`` chaos mode is in force; then the demo stack's
``heartbeat`` check fails once ``every`` + ``grace`` pass without a ping. A ping that fails is
logged once, until one succeeds again; nothing it meets ends the target.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from vigil.demo.chaos import Chaos

log = logging.getLogger(__name__)

DEMO_BEAT_KEY = "demo-worker-beat"
PING_EVERY = 10.0
PING_TIMEOUT = 5.0


def ping_url(vigil_url: str, key: str = DEMO_BEAT_KEY) -> str:
    """The heartbeat URL of the demo's worker on the Vigil at ``vigil_url``."""
    return f"{vigil_url.rstrip('/')}/ping/{key}"


class Worker:
    """Pings ``url`` every ``every`` seconds while ``chaos`` lets it; ``pings`` counts the pings
    Vigil accepted."""

    def __init__(self, url: str, chaos: Chaos, *, every: float = PING_EVERY) -> None:
        self.url, self.chaos, self.every = url, chaos, every
        self.pings = 0
        self._failing = False

    async def run(self) -> None:
        """Until cancelled."""
        async with httpx.AsyncClient(timeout=PING_TIMEOUT) as client:
            while True:
                await asyncio.sleep(self.every)
                if not self.chaos.worker_down:
                    await self._ping(client)

    async def _ping(self, client: httpx.AsyncClient) -> None:
        # The URL is never logged: its key is the heartbeat's secret.
        try:
            response = await client.get(self.url)
            failure = None if response.is_success else f"answered {response.status_code}"
        except Exception as err:  # any failure: the worker keeps going, as a real one would retry
            failure = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        if failure is not None:
            if not self._failing:
                log.warning(
                    "the demo worker could not ping Vigil's heartbeat URL (%s); it keeps trying", failure
                )
            self._failing = True
            return
        if self._failing:
            log.warning("the demo worker pings Vigil's heartbeat URL again")
        self._failing = False
        self.pings += 1
