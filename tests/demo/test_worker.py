"""The demo worker pings the heartbeat URL of the Vigil it is given (here a small receiver
standing in for Vigil's ``/ping/<key>``), stops under ``worker_down`` and resumes on ``recover``;
a Vigil that is not there (yet) never ends it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from vigil.demo.chaos import Chaos, ChaosRequest
from vigil.demo.worker import DEMO_BEAT_KEY, Worker, ping_url

EVERY = 0.05


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in Vigil's base URL, and the keys pinged on it so far."""
    pinged: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        pinged.append(request.match_info["key"])
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/ping/{key}", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/", pinged
    finally:
        await runner.cleanup()


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Worker], None]]:
    tasks: list[asyncio.Task[None]] = []
    yield lambda worker: tasks.append(asyncio.create_task(worker.run()))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_worker_pings_stops_on_worker_down_and_resumes_on_recover(
    receiver: tuple[str, list[str]], running: Callable[[Worker], None]
) -> None:
    vigil, pinged = receiver
    chaos = Chaos()
    running(Worker(ping_url(vigil), chaos, every=EVERY))
    await eventually(lambda: len(pinged) >= 2, "two pings")
    assert set(pinged) == {DEMO_BEAT_KEY}

    chaos.apply(ChaosRequest(mode="worker_down"))
    await asyncio.sleep(EVERY * 2)  # a ping already on its way may still land
    stopped = len(pinged)
    await asyncio.sleep(EVERY * 6)
    assert len(pinged) == stopped, "the worker pinged under worker_down"
    assert chaos.as_dict()["modes"] == ["worker_down"]

    chaos.apply(ChaosRequest(mode="recover"))
    await eventually(lambda: len(pinged) >= stopped + 2, "pings again after recover")


async def test_a_vigil_that_does_not_answer_is_logged_once_and_the_worker_keeps_trying(
    receiver: tuple[str, list[str]], running: Callable[[Worker], None], caplog: pytest.LogCaptureFixture
) -> None:
    vigil, pinged = receiver
    caplog.set_level(logging.WARNING, logger="vigil.demo.worker")
    failing = Worker(ping_url(vigil, "no-such-route/x"), Chaos(), every=EVERY)
    running(failing)
    running(Worker(ping_url(vigil), Chaos(), every=EVERY))
    await eventually(lambda: len(pinged) >= 5, "five pings of the other worker")
    assert failing.pings == 0
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "the demo worker could not ping Vigil's heartbeat URL (answered 404); it keeps trying"
    ]
